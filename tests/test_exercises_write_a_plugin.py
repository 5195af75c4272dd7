"""The write-a-plugin lesson's graded questions: each reference answer passes its check, a
plausible wrong answer fails it with a message a student can act on, and the blank answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_cells, answer_source, assign, check, run_answer

SRC = Path(__file__).resolve().parents[1] / "tutorials" / "write_a_plugin.ipynb"

# question -> (text in the reference answer, a plausible mistake, what the failure message says)
MISTAKES = {
    "gradient_shap": (
        "return ((inputs - chosen) * grads).mean(dim=0, keepdim=True)",
        "return grads.mean(dim=0, keepdim=True)",  # the factor (x - x') forgotten
        "differ from Captum's GradientShap",
    ),
    "leave_one_out_plugin": (
        'id="leave-one-out"',
        'id="ig"',  # an id the built-in IG already has
        "explainer id 'ig' is registered by both plugin 'ptm_captum' and plugin 'my-plugin'",
    ),
    "explain_counter": (
        "self.texts.get(method, 0) + len(explanations)",
        "self.texts.get(method, 0) + 1",  # counts calls, not texts
        "texts is {'saliency': 2}, not {'saliency': 5}",
    ),
    "q_returns_none": ('"c"', '"a"', "not that one"),
    "q_strict": ('"b"', '"a"', "not that one"),
    "q_completeness": ('"c"', '"a"', "not that one"),
    "q_shrink": ("4.0", "16.0", "sigma / sqrt(n)"),
}

# More mistakes where one question checks several things.
MORE_MISTAKES = [
    ("gradient_shap", "(chosen + alpha * (inputs - chosen))", "(inputs + alpha * (chosen - inputs))",
     "differ from Captum's GradientShap"),  # the path walked the other way
    ("gradient_shap", ".mean(dim=0, keepdim=True)", ".sum(dim=0, keepdim=True)", "differ from Captum's GradientShap"),
    ("leave_one_out_plugin", "probs[0, index] - probs[1:, index]", "probs[1:, index] - probs[0, index]",
     "differ from Captum's FeatureAblation"),  # the sign flipped
    ("leave_one_out_plugin", "scores.tolist(), method=\"leave-one-out\"", "scores.tolist()[1:], method=\"leave-one-out\"",
     "scores for"),  # one score short: explanation_from_scores refuses it
    ("explain_counter", "        self.errors[method] = self.errors.get(method, 0) + 1\n", "",
     "ptm_on_explain_error should count it"),
]


def answers(version: str) -> dict[str, str]:
    notebook = getattr(assign(SRC), version)
    return {q: answer_source(notebook, q) for q in answer_cells(notebook)}


def test_every_question_is_tested_here():
    assert set(assign(SRC).tests) == set(MISTAKES)
    assert set(answers("solution")) == set(MISTAKES) == set(answers("student"))


@pytest.mark.parametrize("question", sorted(MISTAKES))
def test_the_reference_answer_passes(question):
    result = check(SRC, question, run_answer(answers("solution")[question]))
    assert result.passed, result.message


@pytest.mark.parametrize(
    "question, right, wrong, message",
    [(q, *m) for q, m in MISTAKES.items()] + MORE_MISTAKES,
)
def test_a_plausible_mistake_is_caught_with_a_useful_message(question, right, wrong, message):
    reference = answers("solution")[question]
    assert reference.count(right) == 1, f"{right!r} is not (once) in the reference answer"
    mistaken = reference.replace(right, wrong)
    result = check(SRC, question, run_answer(mistaken))
    assert not result.passed
    assert message in result.message, result.message


@pytest.mark.parametrize("question", sorted(MISTAKES))
def test_the_blank_answer_fails(question):
    blank = answers("student")[question]
    assert "..." in blank
    result = check(SRC, question, run_answer(blank))
    assert not result.passed and result.message
