"""The three checks every lesson's exercise tests make, for a lesson source and its mutations:
the reference answer passes, each plausible wrong answer (a textual mutation of the reference)
is caught with a message holding given words, and the blank student answer fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.grading import answer_source, assign, check, run_answer


def exercise_tests(source: Path, mutations: dict[str, list[tuple[str, str, str]]]) -> tuple:
    """The test functions for ``source``; ``mutations``: question -> [(text in the reference
    answer, its replacement, words the failure message must hold)]. Assign them to module names."""

    def test_every_question_has_its_checks():
        tests = assign(source).tests
        assert set(tests) == set(mutations)
        assert sum(1 for q in tests if not q.startswith("q_")) >= 3  # written functions
        assert sum(1 for q in tests if q.startswith("q_")) >= 2  # written questions

    @pytest.mark.parametrize("question", sorted(mutations))
    def test_the_reference_answer_passes(question):
        result = check(source, question, run_answer(answer_source(assign(source).solution, question)))
        assert result.passed, result.message

    @pytest.mark.parametrize("question,mutation", [(q, m) for q, ms in mutations.items() for m in ms],
                             ids=lambda v: v if isinstance(v, str) else v[1][:30])
    def test_a_plausible_wrong_answer_is_caught(question, mutation):
        old, new, words = mutation
        reference = answer_source(assign(source).solution, question)
        wrong = reference.replace(old, new)
        assert wrong != reference, f"the mutation {old!r} -> {new!r} did not change the answer"
        result = check(source, question, run_answer(wrong))
        assert not result.passed
        assert words.lower() in result.message.lower(), result.message

    @pytest.mark.parametrize("question", sorted(mutations))
    def test_the_blank_answer_fails(question):
        result = check(source, question, run_answer(answer_source(assign(source).student, question)))
        assert not result.passed and result.message

    return (test_every_question_has_its_checks, test_the_reference_answer_passes,
            test_a_plausible_wrong_answer_is_caught, test_the_blank_answer_fails)
