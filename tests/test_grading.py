"""The grader on a small lesson of its own: student and solution versions, every way a
submission can go wrong, a folder of submissions, grades.csv and the exit status."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

from toolkit import hookimpl
from toolkit.grading import answer_cells, assign, check, is_assign_source
from toolkit.registry import Lesson

CONFIG = """# ASSIGNMENT CONFIG
name: squares
init_cell: true
check_all_cell: false
export_cell: false
generate: false
run_tests: false
tests:
  ok_format: false
"""


def _source(path):
    """A two-question lesson source in otter-assign format: a function and a written answer."""
    v4 = nbformat.v4
    cells = [
        v4.new_raw_cell(CONFIG),
        v4.new_markdown_cell("# Squares"),
        v4.new_code_cell("import os\nQUICK = os.environ.get('PTM_QUICK', '1') != '0'"),
        v4.new_raw_cell("# BEGIN QUESTION\nname: square\npoints: 2"),
        v4.new_markdown_cell("Write `square(x)`, $x^2$."),
        v4.new_raw_cell("# BEGIN SOLUTION"),
        v4.new_code_cell('def square(x):\n    """x squared."""\n    return x * x  # SOLUTION'),
        v4.new_raw_cell("# END SOLUTION"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell('def test_square(square):\n    got = square(3)\n'
                         '    assert got == 9, f"square(3) returned {got!r}; a square multiplies x by itself"'),
        v4.new_raw_cell("# END TESTS"),
        v4.new_raw_cell("# END QUESTION"),
        v4.new_raw_cell("# BEGIN QUESTION\nname: q_e\npoints: 1"),
        v4.new_markdown_cell("What is $e$ to two decimals?"),
        v4.new_raw_cell("# BEGIN SOLUTION"),
        v4.new_code_cell("q_e = 2.72  # SOLUTION"),
        v4.new_raw_cell("# END SOLUTION"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell('def test_q_e(q_e):\n    assert isinstance(q_e, float) and abs(q_e - 2.718) < 0.01, '
                         '"q_e should be e = 2.718... to two decimals"'),
        v4.new_raw_cell("# END TESTS"),
        v4.new_raw_cell("# END QUESTION"),
        v4.new_code_cell("print('the lesson goes on', QUICK)"),
    ]
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def squares(tmp_path, ptm_register):
    source = _source(tmp_path / "squares.ipynb")

    class Squares:
        @hookimpl
        def ptm_register_lessons(self, register):
            register(Lesson(id="squares", title="Squares", summary="x times x", notebook=str(source)))

    ptm_register(Squares(), name="squares-plugin")
    return source


def _edit(path, question, new_source, dest):
    """``path`` with question ``question``'s answer cell replaced: a student's edit."""
    notebook = nbformat.read(path, as_version=4)
    blank = answer_cells(path)[question][0]
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source == blank:
            cell.source = new_source
    nbformat.write(notebook, dest)
    return dest


def test_one_source_gives_a_student_and_a_solution_notebook(squares, ptm_cli, tmp_path):
    assert is_assign_source(squares)
    student = ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    solution = ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "key"), "--solutions")
    assert student.exit_code == 0 and solution.exit_code == 0, student.output + solution.output
    assert "student notebook:" in student.output and "ptm lesson grade" in student.output
    blank, key = answer_cells(tmp_path / "class" / "squares.ipynb"), answer_cells(tmp_path / "key" / "squares.ipynb")
    assert "return x * x" not in blank["square"][0] and "..." in blank["square"][0]
    assert '"""x squared."""' in blank["square"][0]  # the signature and docstring stay
    assert "return x * x" in key["square"][0] and key["q_e"] == ["q_e = 2.72  # SOLUTION"]
    text = (tmp_path / "class" / "squares.ipynb").read_text()
    assert 'grader.check(\\"square\\")' in text and "otter.Notebook" in text
    again = ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    assert again.exit_code == 2 and "exists (your copy?)" in again.output


def test_check_names_what_is_wrong(squares):
    assert check(squares, "square", {"square": lambda x: x * x}).passed
    wrong = check(squares, "square", {"square": lambda x: x + x})
    assert not wrong.passed and wrong.message == "AssertionError: square(3) returned 6; a square multiplies x by itself"
    assert set(assign(squares).points) == {"square", "q_e"} and assign(squares).points["square"] == 2


def test_a_solution_gets_full_marks_and_a_blank_notebook_is_not_attempted(squares, ptm_cli, tmp_path):
    ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "key"), "--solutions")
    solved = ptm_cli("lesson", "grade", str(tmp_path / "key" / "squares.ipynb"))
    assert solved.exit_code == 0, solved.output
    assert solved.output.splitlines()[0] == "squares.ipynb (lesson squares): 3/3 points"
    ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    blank = ptm_cli("lesson", "grade", str(tmp_path / "class" / "squares.ipynb"), "--json")
    assert blank.exit_code == 1
    (graded,) = json.loads(blank.stdout)["notebooks"]
    assert graded["score"] == 0 and graded["points"] == 3 and not graded["error"]
    assert [q["status"] for q in graded["questions"]] == ["not attempted", "not attempted"]


def test_a_folder_is_graded_whatever_its_notebooks_do(squares, ptm_cli, tmp_path):
    ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    student = tmp_path / "class" / "squares.ipynb"
    folder = tmp_path / "submissions"
    folder.mkdir()
    _edit(student, "square", "def square(x):\n    return x * x", folder / "ada.ipynb")
    _edit(student, "square", "def square(x):\n    return x + x", folder / "bob.ipynb")  # wrong
    _edit(student, "square", "def square(x):\n    raise RuntimeError('oops')", folder / "cy.ipynb")
    (folder / "eve.ipynb").write_text('{"cells": [')  # a truncated download
    _edit(student, "square", "import os\nos._exit(3)", folder / "gil.ipynb")  # kills its kernel
    student.replace(folder / "fay.ipynb")  # blank
    # the default timeout: a loaded machine may need many seconds to start a notebook's kernel
    result = ptm_cli("lesson", "grade", str(folder), "--json", "--jobs", "2")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    by_name = {n["notebook"].rsplit("/", 1)[-1]: n for n in data["notebooks"]}
    assert sorted(by_name) == ["ada.ipynb", "bob.ipynb", "cy.ipynb", "eve.ipynb", "fay.ipynb", "gil.ipynb"]
    assert by_name["ada.ipynb"]["score"] == 2 and not by_name["ada.ipynb"]["full_marks"]
    status = {name: {q["name"]: q["status"] for q in n["questions"]} for name, n in by_name.items()}
    assert status["ada.ipynb"] == {"square": "passed", "q_e": "not attempted"}
    assert status["bob.ipynb"]["square"] == status["cy.ipynb"]["square"] == "failed"
    reasons = {name: {q["name"]: q["reason"] for q in n["questions"]} for name, n in by_name.items()}
    assert "square(3) returned 6" in reasons["bob.ipynb"]["square"]
    assert "RuntimeError: oops" in reasons["cy.ipynb"]["square"]
    assert "could not be read" in by_name["eve.ipynb"]["error"] and by_name["eve.ipynb"]["lesson"] is None
    assert "could not be run to the end" in by_name["gil.ipynb"]["error"] and status["gil.ipynb"]["square"] == "failed"
    assert by_name["fay.ipynb"]["score"] == 0 and set(status["fay.ipynb"].values()) == {"not attempted"}
    with open(folder / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * 2 + 1 and {r["notebook"] for r in rows} == set(by_name)
    assert {(r["notebook"], r["question"]): r["status"] for r in rows}[("bob.ipynb", "square")] == "failed"


def test_a_notebook_that_never_ends_is_stopped_at_the_timeout_and_graded(squares, ptm_cli, tmp_path):
    ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    endless = _edit(tmp_path / "class" / "squares.ipynb", "square", "while True:\n    pass", tmp_path / "dee.ipynb")
    result = ptm_cli("lesson", "grade", str(endless), "--json", "--timeout", "3")
    assert result.exit_code == 1, result.output
    (graded,) = json.loads(result.stdout)["notebooks"]
    assert "did not finish within 3 s" in graded["error"] and graded["score"] == 0
    assert {q["name"]: q["status"] for q in graded["questions"]} == {"square": "failed", "q_e": "not attempted"}


def test_a_deleted_check_cell_and_a_foreign_notebook_are_named(squares, ptm_cli, tmp_path):
    ptm_cli("lesson", "notebook", "squares", "--dest", str(tmp_path / "class"))
    path = tmp_path / "class" / "squares.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells if 'grader.check("q_e")' not in c.source]
    nbformat.write(notebook, path)
    result = ptm_cli("lesson", "grade", str(path))
    assert result.exit_code == 1 and 'the grader.check("q_e") cell or its answer cell was deleted' in result.output
    other = tmp_path / "other" / "mine.ipynb"
    other.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), other)
    foreign = ptm_cli("lesson", "grade", str(other))
    assert foreign.exit_code == 1 and "not a notebook of this course" in foreign.output


@pytest.mark.parametrize(("args", "message"), [
    (["nowhere"], "nowhere not found; give a notebook or a folder of notebooks"),
    (["README.md"], "is not a notebook (.ipynb)"),
])
def test_bad_paths_are_one_line(ptm_cli, tmp_path, args, message):
    (tmp_path / "README.md").write_text("x")
    result = ptm_cli("lesson", "grade", *[str(tmp_path / a) for a in args])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1


def test_an_empty_folder_is_one_line(ptm_cli, tmp_path):
    result = ptm_cli("lesson", "grade", str(tmp_path))
    assert result.exit_code == 2 and f"no notebooks (*.ipynb) in {tmp_path}" in result.output
