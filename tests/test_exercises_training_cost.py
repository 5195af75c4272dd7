"""The training-cost lesson's graded questions: each reference answer passes its check, a
plausible wrong answer fails it with a message a student can act on, and the blank answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_cells, answer_source, assign, check, run_answer

SRC = Path(__file__).resolve().parents[1] / "tutorials" / "training_cost.ipynb"

# question -> (text in the reference answer, a plausible mistake, what the failure message says)
MISTAKES = {
    "count_trainable": (
        " if p.requires_grad)", ")",  # every parameter counted as trainable
        "which parameters does the optimizer update?",
    ),
    "train_flops": (
        "sum(2 * t for n, t in layers)", "sum(2 * n for n, t in layers)",  # weight gradients for frozen weights too
        "with nothing trained",
    ),
    "lora_forward": (
        "(alpha / r) * (x", "(x",  # the scale forgotten
        "check the low-rank term and its scale",
    ),
    "pareto_front": (
        "(c < cost or a > accuracy)", "(c < cost and a > accuracy)",  # only strictly better on both counts dominates
        "is dominated too",
    ),
    "q_head_flops": ("0.33", "0.5", "which of the three products"),
    "q_lora_flops": ('"c"', '"a"', "not that one"),
    "q_bf16": ('"b"', '"a"', "not that one"),
}

# More mistakes where one question checks several things.
MORE_MISTAKES = [
    # activation gradients for every layer, the first one's input and the frozen bottom included
    ("train_flops", "        if trained_below:\n            activation_gradients += 2 * n\n",
     "        activation_gradients += 2 * n\n", "with nothing trained"),
    # activation gradients from the lowest trained layer itself, not from the one above it
    ("train_flops", "        if trained_below:\n            activation_gradients += 2 * n\n        trained_below = trained_below or t > 0\n",
     "        trained_below = trained_below or t > 0\n        if trained_below:\n            activation_gradients += 2 * n\n",
     "with everything trained"),
    ("lora_forward", "(alpha / r) * (x", "(r / alpha) * (x", "with r=4 and alpha=8"),
    ("lora_forward", "(alpha / r) * (x", "alpha * (x", "with r=4 and alpha=8"),
    ("count_trainable", "p.numel() for p in model.parameters())", "1 for p in model.parameters())",
     "the total differs from peft's"),  # tensors counted, not numbers
]


def answers(version: str) -> dict[str, str]:
    notebook = getattr(assign(SRC), version)
    return {q: answer_source(notebook, q) for q in answer_cells(notebook)}


def test_every_question_is_tested_here():
    assert set(assign(SRC).tests) == set(MISTAKES)
    assert set(answers("solution")) == set(MISTAKES) == set(answers("student"))
    assert sum(assign(SRC).points.values()) == 10


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


def test_the_lessons_pareto_front_is_the_reference_answer():
    # the notebook plots with ptm_course.training_cost.pareto_front: it must agree with the answer
    from ptm_course.training_cost import pareto_front

    reference = run_answer(answers("solution")["pareto_front"])["pareto_front"]
    import random

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 7)
        costs = [rng.choice([1, 2, 3, 4]) for _ in range(n)]
        accuracies = [rng.choice([0.5, 0.6, 0.7]) for _ in range(n)]
        assert pareto_front(costs, accuracies) == reference(costs, accuracies)
