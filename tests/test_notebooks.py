"""Every lesson's notebook is an otter-assign source, committed clean, with graded exercises and
written questions; its blank student version scores zero without a crash.

The solution versions are run (once each, in quick mode) and graded by tests/test_docs.py, whose
site shows those runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.lessons import notebook_path
from toolkit.manager import create_plugin_manager
from toolkit.registry import Lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [l for l in create_plugin_manager().registry.records(Lesson) if l.notebook]


def test_every_notebook_in_tutorials_belongs_to_a_lesson_and_has_no_outputs():
    files = sorted(p.name for p in (ROOT / "tutorials").glob("*.ipynb"))
    assert files == sorted(notebook_path(l).name for l in LESSONS)
    for name in files:
        notebook = json.loads((ROOT / "tutorials" / name).read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{name} was committed with outputs"


def _kind(answer: list[str]) -> str:
    """'written' when the reference answer only assigns values (a number, a choice),
    'exercise' when the student writes code (a function, a computation)."""
    import ast

    tree = ast.parse("\n".join(answer))
    plain = all(isinstance(node, ast.Assign) and _constant(node.value) for node in tree.body)
    return "written" if plain else "exercise"


def _constant(node) -> bool:
    import ast

    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return isinstance(node, ast.BinOp) and _constant(node.left) and _constant(node.right)


def test_every_lesson_has_graded_exercises_and_written_questions():
    from toolkit.grading import answer_cells, assign, is_assign_source

    total = 0
    for lesson in LESSONS:
        source = notebook_path(lesson)
        assert is_assign_source(source), f"{source.name} is not an otter-assign source"
        answers = answer_cells(assign(source).solution)
        kinds = [_kind(cells) for cells in answers.values()]
        assert kinds.count("exercise") >= 3, f"{lesson.id}: {kinds.count('exercise')} graded exercises, not 3"
        assert kinds.count("written") >= 1, f"{lesson.id}: no written question"
        assert set(answers) == set(assign(source).tests), f"{lesson.id}: a question without tests or a check cell"
        total += kinds.count("exercise")
    assert len(LESSONS) >= 7 and total >= 18


@pytest.mark.parametrize("lesson", LESSONS, ids=[l.id for l in LESSONS])
def test_the_blank_student_notebook_scores_zero_and_nothing_crashes(lesson, tmp_path):
    from toolkit.grading import NOT_ATTEMPTED, grade_notebook
    from toolkit.lessons import copy_notebook

    pm = create_plugin_manager()
    path = copy_notebook(pm, lesson.id, tmp_path)
    graded = grade_notebook(pm, path)
    assert graded.lesson == lesson.id and not graded.error
    assert graded.score == 0 and graded.points > 0
    assert {q.status for q in graded.questions} == {NOT_ATTEMPTED}
