"""The explainability lesson's graded questions: every reference answer passes its tests, a
plausible wrong answer is caught with a message a student can act on, and a blank answer fails."""

from __future__ import annotations

from pathlib import Path

from exercise_checks import exercise_tests

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


(test_every_question_has_its_checks, test_the_reference_answer_passes,
 test_a_plausible_wrong_answer_is_caught, test_the_blank_answer_fails) = exercise_tests(SRC, MUTATIONS)
