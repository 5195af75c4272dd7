"""The finetuning lesson's graded exercises: each reference answer passes its tests, plausible
wrong answers (textual mutations of the reference, and a few written from scratch) are caught
with a message a student can act on, and the blank student answer fails."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from toolkit.grading import answer_source, assign, check, run_answer

SRC = Path(__file__).resolve().parent.parent / "tutorials" / "finetuning.ipynb"

# question -> the names its answer cells read from the notebook (besides their own imports)
NOTEBOOK_NAMES = {"q_warmup_steps": lambda: {"math": math, "WARMUP": 0.1, "metrics": {"steps": 53}}}

# question -> (reference text, its mutation, words the failure message must contain)
MUTATIONS = {
    "mean_pool": [
        ("weights.sum(dim=1).clamp_min(1.0)", "hidden.shape[1]", "divide by the number of real tokens"),
    ],
    "train_loop": [
        ("            optimizer.zero_grad()\n", "", "gradients pile up"),
        ("loss = model(**batch).loss",
         'loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).loss',
         "labels"),
        ("    model.train()\n", "", "training mode"),
        ("            scheduler.step()\n", "", "learning rate never changes"),
    ],
    "evaluate_accuracy": [
        ("    model.eval()\n", "", "evaluation mode"),
        ('total += len(batch["labels"])', "total += 1", "divide by the number of sentences"),
    ],
    "q_warmup_steps": [("math.ceil(", "round(", "rounded up")],
    "q_loss_none": [('"b"', '"a"', "not that one")],
    "q_eval": [('"a"', '"b"', "torch.no_grad()")],
    "q_dropout_scale": [("1 / (1 - 0.1)", "1 - 0.1", "expected activation")],
    "loop_matches_ptm": [("evaluate_accuracy(loop_model, test_batches)",
                          "evaluate_accuracy(loop_model, train_batches)", "more than 0.03 apart")],
    "align_labels": [
        # every piece of a word labelled with its tag
        ("labels.append(-100)            # a later piece", "labels.append(word_tags[word])  # a later piece",
         "only a word's first piece carries its tag, the rest get -100"),
        # the previous word never remembered: the same mistake, made another way
        ("        previous = word\n", "", "the second piece of word 1 (position 3) got label 8"),
        # special tokens labelled 0 (the id of O) instead of -100
        ("labels.append(-100)            # [CLS]", "labels.append(0)            # [CLS]", "special token"),
        # off by one: the tag of the word before
        ("word_tags[word])", "word_tags[word - 1])", "off by one"),
    ],
}

# question -> wrong answers written from scratch rather than as an edit of the reference: (the
# answer, words the failure message must contain)
REWRITTEN = {
    "align_labels": [
        # tags looked up by the piece's position, as if every word were one piece
        ("def align_labels(word_ids, word_tags):\n"
         "    return [-100 if w is None else word_tags[i - 1] for i, w in enumerate(word_ids)]\n",
         "never by its position"),
        # the tag put on a word's last piece
        ("def align_labels(word_ids, word_tags):\n"
         "    return [word_tags[w] if w is not None and (i + 1 == len(word_ids) or word_ids[i + 1] != w) else -100\n"
         "            for i, w in enumerate(word_ids)]\n",
         "put it on the first piece"),
    ],
}


@pytest.fixture(scope="module")
def assigned():
    return assign(SRC)


def _loop_names() -> dict:
    """Stand-ins for the notebook's MiniLM run: the check compares two numbers, so the loop's
    answer cell runs on stubs that score 0.80 on test and 0.95 on the training batches."""
    test, train = object(), object()
    return {
        "train_loop": lambda model, batches, **settings: model,
        "evaluate_accuracy": lambda model, batches: {id(test): 0.80, id(train): 0.95}[id(batches)],
        "loop_loaded": SimpleNamespace(model=object()), "train_batches": train, "test_batches": test,
        "EPOCHS": 1, "LR": 1e-4, "WARMUP": 0.1, "WEIGHT_DECAY": 0.01, "SEED": 42, "ptm_accuracy": 0.8125,
    }


def _run(question: str, source: str):
    names = _loop_names() if question == "loop_matches_ptm" else NOTEBOOK_NAMES.get(question, dict)()
    return check(SRC, question, run_answer(source, names))


def test_the_lesson_has_its_questions(assigned):
    assert set(assigned.tests) == set(MUTATIONS)
    assert sum(assigned.points.values()) == 14
    written = [q for q in assigned.tests if q.startswith("q_")]
    assert len(assigned.tests) - len(written) >= 3 and len(written) >= 2


@pytest.mark.parametrize("question", sorted(MUTATIONS))
def test_reference_passes_mutation_fails_blank_fails(assigned, question):
    reference = answer_source(assigned.solution, question)
    result = _run(question, reference)
    assert result.passed, result.message
    for old, new, words in MUTATIONS[question]:
        mutated = reference.replace(old, new)
        assert mutated != reference, f"the mutation {old!r} no longer applies to {question}'s answer"
        result = _run(question, mutated)
        assert not result.passed, f"{question}: the mutation {old!r} -> {new!r} was not caught"
        assert words in result.message, result.message
    blank = answer_source(assigned.student, question)
    assert "..." in blank
    result = _run(question, blank)
    assert not result.passed and result.message


@pytest.mark.parametrize("question,answer,words", [(q, a, w) for q, cases in REWRITTEN.items() for a, w in cases],
                         ids=lambda v: "answer" if "\n" in str(v) else None)
def test_a_rewritten_wrong_answer_is_caught(assigned, question, answer, words):
    result = _run(question, answer)
    assert not result.passed, f"{question}: the wrong answer was not caught:\n{answer}"
    assert words in result.message, result.message
