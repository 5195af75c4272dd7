"""The private-and-explainable lesson's graded exercises: every reference answer passes, a
plausible wrong answer is caught with a message a student can act on, and the blank answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_source, assign, check, run_answer

SRC = Path(__file__).resolve().parents[1] / "tutorials" / "private_and_explainable.ipynb"

# question -> (text in the reference answer, its replacement: a plausible mistake, words the message must hold)
MISTAKES = {
    "q_noise": ("q_ratio_head = 0.139", "q_ratio_head = 3.85", "sqrt(d)"),  # d instead of its square root
    "q_target": ('q_target = "b"', 'q_target = "a"', "reviews the two models predict differently"),
    "q_baseline": ('q_baseline = "a"', 'q_baseline = "b"', "what differs between the two twins"),
    # the two logits subtracted the other way round
    "logit_difference": ("logits[:, positive] - logits[:, negative]", "logits[:, negative] - logits[:, positive]",
                         "subtract in that order"),
    # ties keep their first-come ranks
    "spearman_rho": ("ranks[tied] = ranks[tied].mean()", "pass", "tied values share the average"),
    # the signed score instead of its size: a strongly negative word is left out
    "top_k_overlap": ("np.argsort(-np.abs(np.asarray(", "np.argsort(-(np.asarray(", "whatever its sign"),
    # x and y resampled apart: the pairing is lost
    "paired_bootstrap_ci": ("(x[index] - y[index])", "(x[index] - y[rng.integers(0, len(x), size=index.shape)])",
                            "resample whole pairs"),
}


def _answer(version: str, question: str) -> str:
    return answer_source(getattr(assign(SRC), version), question)


def test_every_question_has_a_mistake_here():
    assert set(assign(SRC).tests) == set(MISTAKES)


@pytest.mark.parametrize("question", sorted(MISTAKES))
def test_the_reference_answer_passes(question):
    result = check(SRC, question, run_answer(_answer("solution", question)))
    assert result.passed, result.message


@pytest.mark.parametrize("question", sorted(MISTAKES))
def test_a_plausible_mistake_is_caught_with_a_useful_message(question):
    reference = _answer("solution", question)
    old, new, words = MISTAKES[question]
    wrong = reference.replace(old, new)
    assert wrong != reference, f"the mistake for {question} no longer applies to its reference answer"
    result = check(SRC, question, run_answer(wrong))
    assert not result.passed
    assert words in result.message, result.message


def test_a_second_mistake_each_for_the_bootstrap_and_the_forward():
    # the interval at alpha instead of alpha / 2: a 90% interval called 95%
    reference = _answer("solution", "paired_bootstrap_ci")
    wrong = reference.replace("[alpha / 2, 1 - alpha / 2]", "[alpha, 1 - alpha]")
    assert wrong != reference
    result = check(SRC, "paired_bootstrap_ci", run_answer(wrong))
    assert not result.passed and "scipy's percentile bootstrap" in result.message
    # the attention mask dropped: padded sentences read their [PAD] tokens
    reference = _answer("solution", "logit_difference")
    wrong = reference.replace("attention_mask=attention_mask", "attention_mask=None")
    assert wrong != reference
    result = check(SRC, "logit_difference", run_answer(wrong))
    assert not result.passed and "attention mask" in result.message


@pytest.mark.parametrize("question", sorted(MISTAKES))
def test_the_blank_answer_fails(question):
    blank = _answer("student", question)
    assert "..." in blank
    try:
        namespace = run_answer(blank)
    except Exception:
        return  # a blank that does not even run has failed
    assert not check(SRC, question, namespace).passed
