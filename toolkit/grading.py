"""Graded exercises: one source notebook per lesson, a student and a solution version, a grader.

A lesson's notebook in ``tutorials/`` is written in otter-grader's *assign* format (the
convention of autograded Jupyter courses, https://otter-grader.readthedocs.io): raw cells mark
each question (``# BEGIN QUESTION`` / ``name: q1``), its reference answer (lines ending in
``# SOLUTION``, or ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` blocks) and its tests
(``# BEGIN TESTS``: functions whose arguments are names from the student's notebook and whose
``assert`` messages are what a student reads). ``otter assign`` turns that source into

- the *student* notebook: answers blanked to ``...``, a ``grader.check("q1")`` cell after each
  question, the tests kept in the notebook's metadata so ``grader.check`` works offline;
- the *solution* notebook: the same cells with the reference answers (for instructors).

Grading executes a submission in quick mode on the CPU with otter's grader, each notebook in a
process of its own with a time limit, and reports every question as passed, failed (with the
first failing test's message) or not attempted (its answer cells are still the blank ones).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError


@dataclass(frozen=True)
class Assigned:
    """What ``otter assign`` made of one source notebook."""

    student: Path
    solution: Path
    tests: dict[str, str]  # question name -> otter test file source
    points: dict[str, float]  # question name -> points


@dataclass(frozen=True)
class Check:
    """One question's tests run against a namespace."""

    passed: bool
    message: str  # the first failing test's message, or "" when every test passed


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def assign(source: str | Path, dest: str | Path | None = None) -> Assigned:
    """Run ``otter assign`` on ``source`` into ``dest`` (a cache folder when None).

    The result is cached per source content, so grading a folder of submissions assigns once.
    """
    source = Path(source)
    if dest is None:
        return _assign_cached(str(source.resolve()), _sha(source))
    return _assign(source, Path(dest))


@cache
def _assign_cached(source: str, sha: str) -> Assigned:
    dest = Path(tempfile.gettempdir()) / f"ptm-assign-{sha}"
    marker = dest / "done"
    if not marker.is_file():
        work = Path(tempfile.mkdtemp(prefix=f"ptm-assign-{sha}-"))
        _assign(Path(source), work / "out")
        # another process may have finished first; its copy is the same
        if not marker.is_file():
            shutil.rmtree(dest, ignore_errors=True)
            try:
                (work / "out").replace(dest)
                marker.write_text(sha)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    return _read_assigned(dest, Path(source).name)


def _assign(source: Path, dest: Path) -> Assigned:
    import contextlib
    import io
    import logging

    from otter.assign import main as otter_assign

    if not source.is_file():
        raise ConfigError(f"notebook {source} not found")
    dest.mkdir(parents=True, exist_ok=True)
    # otter logs and prints its progress; a CLI user wants one line
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        logging.getLogger("otter").setLevel(logging.ERROR)
        otter_assign(str(source), str(dest / "otter"), no_pdfs=True)
    work = dest / "otter"
    student = dest / "student"
    solution = dest / "solution"
    for name, folder in (("student", student), ("autograder", solution)):
        folder.mkdir(exist_ok=True)
        shutil.copyfile(work / name / source.name, folder / source.name)
    shutil.rmtree(work)
    return _read_assigned(dest, source.name)


def _read_assigned(dest: Path, name: str) -> Assigned:
    from otter.test_files.exception_test import ExceptionTestFile

    student = dest / "student" / name
    meta = json.loads(student.read_text(encoding="utf-8"))["metadata"].get("otter", {})
    tests = dict(meta.get("tests", {}))
    points = {q: float(ExceptionTestFile.from_string(src, path=q).possible) for q, src in tests.items()}
    return Assigned(student=student, solution=dest / "solution" / name, tests=tests, points=points)


def check(source: str | Path, question: str, namespace: dict[str, Any]) -> Check:
    """Run question ``question``'s tests from lesson source ``source`` against ``namespace``
    (the names a student's notebook would define), the way ``grader.check`` does."""
    from otter.test_files.exception_test import ExceptionTestFile

    tests = assign(source).tests
    if question not in tests:
        raise ConfigError(f"{Path(source).name} has no question '{question}'; it has {', '.join(tests)}")
    test_file = ExceptionTestFile.from_string(tests[question], path=question)
    test_file.run(dict(namespace))
    failed = [r for r in test_file.test_case_results if not r.passed]
    return Check(passed=not failed, message=_reason(failed[0].message) if failed else "")


def _reason(message: str) -> str:
    """The line of otter's failure text a student acts on: the exception, not the frame."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(("❌", "Error at line", "File ")):
            return line
    return lines[-1] if lines else "failed"


def answer_cells(notebook: str | Path) -> dict[str, list[str]]:
    """Each question's answer cells in a student or solution notebook: question -> sources.

    An answer cell is one otter tagged (``otter_answer_cell`` in a student's copy,
    ``otter_assign_solution_cell`` in the solution); it belongs to the question whose
    ``grader.check("...")`` cell comes next.
    """
    import re

    import nbformat

    cells = nbformat.read(str(notebook), as_version=4).cells
    answers: dict[str, list[str]] = {}
    pending: list[str] = []
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and {"otter_answer_cell", "otter_assign_solution_cell"} & set(tags):
            pending.append(cell.source)
            continue
        match = re.fullmatch(r'\s*grader\.check\(\s*["\']([^"\']+)["\']\s*\)\s*', cell.source) if cell.cell_type == "code" else None
        if match:
            answers[match.group(1)] = pending
            pending = []
    return answers
