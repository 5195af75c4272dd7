"""The privacy lesson's graded questions: every reference answer passes its tests, a plausible
wrong answer is caught with a message a student can act on, and a blank answer fails."""

from __future__ import annotations

from pathlib import Path

from exercise_checks import exercise_tests

SRC = Path(__file__).resolve().parent.parent / "tutorials" / "privacy.ipynb"

# question -> [(text in the reference answer, its replacement, words the failure message must hold)]
MUTATIONS = {
    "laplace_count": [
        ("scale=sensitivity / epsilon", "scale=epsilon", "wrong scale"),  # scale epsilon, not 1/epsilon
        ("return len(data) + rng", "return len(data) - 1 + rng", "centred"),  # off by one
    ],
    "max_log_ratio": [
        (") / b\n", ")\n", "log-density"),  # the 1/b factor forgotten
        ("log_p_d - log_p_dprime", "log_p_dprime - log_p_d", "order"),  # p_D' / p_D
    ],
    "q_likelihood_ratio": [("q_ratio_eps1 = 2.718", "q_ratio_eps1 = 1.0", "factor")],
    "q_delta": [('"b"', '"a"', "not that one"), ("1 / 400", "1 / 4000", "probability")],
    "per_example_grads": [
        ("return loss_fn(out, yi.unsqueeze(0))", "return loss_fn(out, yi.unsqueeze(0)) / len(x)", "own loss"),
    ],
    "clip_and_noise": [
        # clipping after summing: one factor for the whole batch, from the norm of the sum
        ("(max_grad_norm / flat.norm(dim=1)).clamp(max=1.0)",
         "(max_grad_norm / flat.sum(0).norm()).clamp(max=1.0).expand(batch)", "on its own"),
        ("std = noise_multiplier * max_grad_norm", "std = noise_multiplier", "sigma * c"),
        ("summed + noise", "summed", "no noise"),
    ],
    "q_noise_dimension": [
        ("q_noise_norm_ratio = 10.0", "q_noise_norm_ratio = 100.0", "more slowly"),
        ("q_sigma_ratio = 1.0", "q_sigma_ratio = 10.0", "accountant"),
    ],
    "tpr_at_fpr": [  # the false positives counted against every example, not the non-members
        ("fprs = (others[None, :] >= thresholds[:, None]).mean(axis=1)",
         "fprs = (others[None, :] >= thresholds[:, None]).sum(axis=1) / (len(members) + len(others))",
         "false-positive rate"),
    ],
    "dp_tpr_bound": [
        ("first = math.exp(epsilon) * fpr + delta", "first = math.exp(epsilon) * fpr", "+ delta"),
        ("return min(1.0, first, second)", "return min(1.0, first)", "both inequalities"),
    ],
    "q_bound_numbers": [
        ("q_bound_eps8 = 1.0", "q_bound_eps8 = 149.1", "above 1"),
        ("q_bound_eps1 = 0.136", "q_bound_eps1 = 0.05", "e^epsilon"),
    ],
}


(test_every_question_has_its_checks, test_the_reference_answer_passes,
 test_a_plausible_wrong_answer_is_caught, test_the_blank_answer_fails) = exercise_tests(SRC, MUTATIONS)
