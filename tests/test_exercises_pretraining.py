"""The pretraining lesson's graded questions: every reference answer passes its tests, a
plausible wrong answer is caught with a message a student can act on, and a blank answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_cells, assign, check

SRC = Path(__file__).resolve().parent.parent / "tutorials" / "pretraining.ipynb"

# question -> [(text in the reference answer, its replacement, words the failure message must hold)]
MUTATIONS = {
    "q_phases": [('("a", "b")', '("b", "b")', "pretraining")],
    "mask_tokens": [
        (" & ~special_tokens_mask.bool()", "", "special token"),
        ("(draw < 0.8)", "(draw < 0.7)", "[MASK]"),  # 70/10/20
        ("to_random = chosen & (draw >= 0.8) & (draw < 0.9)", "to_random = chosen & (draw >= 0.8)", "random token"),  # 80/20/0
    ],
    "q_mask_fraction": [("0.15 * 0.8", "0.15", "chosen")],
    "q_unchanged_why": [('"b"', '"a"', "not that one")],
    "masked_lm_loss": [
        (").mean()", ").sum()", "BertForMaskedLM"),
        (").mean()", ").mean().item()", "tensor"),
    ],
    "q_tiny_mlm_loss": [(") / 2", ") / 6", "chosen places")],
    "masked_token_accuracy": [("at_mask = chosen & (input_ids == mask_token_id)", "at_mask = chosen", "[MASK]")],
    "q_copy_accuracy": [("0.10", "0.0", "all chosen places")],
}


@pytest.fixture(scope="module")
def assigned():
    return assign(SRC)


def _namespace(sources: list[str]) -> dict:
    namespace: dict = {}
    exec("\n\n".join(sources), namespace)
    return namespace


def test_every_question_has_its_checks(assigned):
    assert set(assigned.tests) == set(MUTATIONS)
    assert sum(1 for q in assigned.tests if not q.startswith("q_")) >= 3  # written functions
    assert sum(1 for q in assigned.tests if q.startswith("q_")) >= 2  # written questions


@pytest.mark.parametrize("question", sorted(MUTATIONS))
def test_the_reference_answer_passes(assigned, question):
    result = check(SRC, question, _namespace(answer_cells(assigned.solution)[question]))
    assert result.passed, result.message


@pytest.mark.parametrize("question,mutation", [(q, m) for q, ms in MUTATIONS.items() for m in ms],
                         ids=lambda v: v if isinstance(v, str) else v[1][:30])
def test_a_plausible_wrong_answer_is_caught(assigned, question, mutation):
    old, new, words = mutation
    sources = answer_cells(assigned.solution)[question]
    wrong = [s.replace(old, new) for s in sources]
    assert wrong != sources, f"the mutation {old!r} -> {new!r} did not change the answer"
    result = check(SRC, question, _namespace(wrong))
    assert not result.passed
    assert words.lower() in result.message.lower(), result.message


@pytest.mark.parametrize("question", sorted(MUTATIONS))
def test_the_blank_answer_fails(assigned, question):
    result = check(SRC, question, _namespace(answer_cells(assigned.student)[question]))
    assert not result.passed and result.message
