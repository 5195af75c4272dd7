"""The explainability lesson's graded questions: every reference answer passes its tests, a
plausible wrong answer is caught with a message a student can act on, and a blank answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_cells, assign, check

SRC = Path(__file__).resolve().parent.parent / "tutorials" / "explainability.ipynb"

# question -> [(text in the reference answer, its replacement, words the failure message must hold)]
MUTATIONS = {
    "integrated_gradients": [
        # the integral alone, without the factor (x - x')
        ("((x - baseline) * gradients.mean(dim=0)).sum(dim=-1)", "gradients.mean(dim=0).sum(dim=-1)", "(x - x')"),
        # the left Riemann sum instead of the midpoint rule
        ("dtype=x.dtype, device=x.device) + 0.5)", "dtype=x.dtype, device=x.device))", "alpha_k"),
        # one score per hidden dimension instead of per token
        (".sum(dim=-1)  # SOLUTION", ".sum(dim=0)  # SOLUTION", "one score per token"),
    ],
    "completeness_delta": [
        ("attributions.sum() - gap", "gap - attributions.sum()", "in that order"),
    ],
    "q_missing_score": [("1.3", "2.7", "completeness")],
    "q_without_factor": [('"b"', '"a"', "not that one")],
    "q_baseline_split": [('"b"', '"d"', "not that one")],
    "comprehensiveness": [
        # the floor of k n: one token too few for 20% of 7
        ("max(1, math.ceil(k * len(ranked)))", "max(1, math.floor(k * len(ranked)))", "ceiling"),
        # lowest scores first
        ("key=lambda i: -scores[i]", "key=lambda i: scores[i]", "highest score first"),
    ],
    "sufficiency": [
        # the top tokens alone, without [CLS] and [SEP]
        ("if i in top or special[i]", "if i in top", "[CLS] and [SEP]"),
    ],
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
