"""The pretraining lesson's graded questions: every reference answer passes its tests, a
plausible wrong answer is caught with a message a student can act on, and a blank answer fails."""

from __future__ import annotations

from pathlib import Path

from exercise_checks import exercise_tests

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


(test_every_question_has_its_checks, test_the_reference_answer_passes,
 test_a_plausible_wrong_answer_is_caught, test_the_blank_answer_fails) = exercise_tests(SRC, MUTATIONS)
