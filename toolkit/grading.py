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


def is_assign_source(path: str | Path) -> bool:
    """Whether a notebook is an otter-assign source (its first cell is ``# ASSIGNMENT CONFIG``)."""
    cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    first = "".join(cells[0].get("source", "")) if cells else ""
    return cells[0].get("cell_type") == "raw" and first.lstrip().startswith("# ASSIGNMENT CONFIG") if cells else False


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


def answer_source(notebook: str | Path, question: str) -> str:
    """Question ``question``'s answer cells in ``notebook`` (student or solution), as one source."""
    return "\n\n".join(answer_cells(notebook)[question])


def run_answer(source: str, names: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute an answer's ``source`` in a fresh namespace holding ``names`` (what its cells
    read from the rest of the notebook); return the namespace, ready for :func:`check`."""
    namespace = dict(names or {})
    exec(compile(source, "<answer>", "exec"), namespace)
    return namespace


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


# -- grading submissions ------------------------------------------------------------------------

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
# what a grading run sees: the lesson's quick mode, on the CPU, offline, no progress bars, and
# matplotlib's inline backend (a user's MPLBACKEND=Agg would hide every plt.show() figure)
GRADING_ENV = {"PTM_QUICK": "1", "TQDM_DISABLE": "1", "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class QuestionGrade:
    name: str
    status: str  # passed, failed or not attempted
    score: float
    points: float
    reason: str = ""  # why it failed, in words a student can act on


@dataclass(frozen=True)
class NotebookGrade:
    path: Path
    lesson: str | None
    questions: tuple[QuestionGrade, ...]
    error: str = ""  # the notebook as a whole could not be run (unreadable, timed out, kernel died)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def full_marks(self) -> bool:
        return bool(self.questions) and not self.error and all(q.status == PASSED for q in self.questions)

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": str(self.path), "lesson": self.lesson, "score": self.score, "points": self.points,
            "full_marks": self.full_marks, "error": self.error, "seconds": round(self.seconds, 1),
            "questions": [q.__dict__ for q in self.questions],
        }


def lesson_sources(pm: Any) -> dict[str, Path]:
    """Every lesson whose notebook is installed: lesson id -> its source notebook."""
    from toolkit.errors import PtmError
    from toolkit.lessons import notebook_path
    from toolkit.registry import Lesson

    sources = {}
    for lesson in pm.registry.records(Lesson):
        try:
            sources[lesson.id] = notebook_path(lesson)
        except PtmError:  # no notebook, or not installed: nothing of it to grade
            continue
    return sources


def _which_lesson(path: Path, notebook: dict[str, Any] | None, sources: dict[str, Path]) -> str | None:
    """The lesson a submission belongs to: otter's assignment name, else the file name."""
    name = ((notebook or {}).get("metadata", {}).get("otter", {}) or {}).get("assignment_name")
    if name in sources:
        return name
    by_file = {source.name: lesson for lesson, source in sources.items()}
    return by_file.get(path.name)


def find_notebooks(path: str | Path) -> list[Path]:
    """``path`` itself when it is a file, else the notebooks in the folder (not its sub-folders,
    not Jupyter's checkpoints), sorted by name."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found; give a notebook or a folder of notebooks")
    if path.is_file():
        if path.suffix != ".ipynb":
            raise ConfigError(f"{path} is not a notebook (.ipynb); give a notebook or a folder of notebooks")
        return [path]
    found = sorted(p for p in path.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    if not found:
        raise ConfigError(f"no notebooks (*.ipynb) in {path}")
    return found


def grade_notebook(pm: Any, path: str | Path, *, timeout: float = 900, executed: Path | None = None) -> NotebookGrade:
    """Grade one submission. Never raises for a bad submission: an unreadable notebook, one
    that raises, hangs past ``timeout`` seconds or kills its kernel is graded, with the reason.

    ``executed``: where to save the executed notebook (for the docs site, or to look at).
    """
    import time

    path = Path(path)
    sources = lesson_sources(pm)
    start = time.monotonic()
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no cells")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        lesson = _which_lesson(path, None, sources)
        return _all_failed(path, lesson, sources, f"the notebook could not be read ({_short(error)}); "
                           "download it again from Jupyter (File > Download)")
    lesson = _which_lesson(path, notebook, sources)
    if lesson is None:
        return NotebookGrade(path, None, (), error="not a notebook of this course (no otter assignment name "
                             "matches a lesson, nor does the file name); start from ptm lesson notebook ID")
    assigned = assign(sources[lesson])
    try:
        answers = answer_cells(path)
    except Exception as error:  # nbformat refuses what json accepted
        return _all_failed(path, lesson, sources, f"the notebook could not be read ({_short(error)})")
    blank = answer_cells(assigned.student)
    attempted = {q for q in assigned.tests if q in answers and answers[q] != blank.get(q)}
    missing = {q for q in assigned.tests if q not in answers}
    results: dict[str, tuple[float, str]] = {}
    error = ""
    if attempted:
        results, error = _execute(path, assigned, timeout=timeout, executed=executed)
    grades = []
    for q, points in assigned.points.items():
        if q in missing:
            grades.append(QuestionGrade(q, FAILED, 0.0, points, f"the grader.check(\"{q}\") cell or its answer "
                                        "cell was deleted; copy them back from a fresh ptm lesson notebook"))
        elif q not in attempted:
            grades.append(QuestionGrade(q, NOT_ATTEMPTED, 0.0, points))
        elif q in results:
            score, reason = results[q]
            status = PASSED if score >= points else FAILED
            grades.append(QuestionGrade(q, status, score, points, "" if status == PASSED else reason))
        else:
            grades.append(QuestionGrade(q, FAILED, 0.0, points, error or "not graded"))
    return NotebookGrade(path, lesson, tuple(grades), error=error, seconds=time.monotonic() - start)


def _all_failed(path: Path, lesson: str | None, sources: dict[str, Path], reason: str) -> NotebookGrade:
    if lesson is None:
        return NotebookGrade(path, None, (), error=reason)
    points = assign(sources[lesson]).points
    return NotebookGrade(path, lesson, tuple(QuestionGrade(q, FAILED, 0.0, p, reason) for q, p in points.items()),
                         error=reason)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _execute(path: Path, assigned: Assigned, *, timeout: float, executed: Path | None) -> tuple[dict[str, tuple[float, str]], str]:
    """Run otter's grader on ``path`` in a process of its own; (question -> (score, reason), error)."""
    import os
    import signal
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="ptm-grade-") as tmp:
        work = Path(tmp)
        tests = work / "tests"
        tests.mkdir()
        for q, source in assigned.tests.items():
            (tests / f"{q}.py").write_text(source, encoding="utf-8")
        submission = work / "submission" / assigned.student.name
        submission.parent.mkdir()
        shutil.copyfile(path, submission)
        result_file = work / "result.json"
        command = [sys.executable, "-m", "toolkit.grading", str(submission), str(tests), str(result_file)]
        if executed is not None:
            command.append(str(Path(executed).resolve()))
        env = {**os.environ, **GRADING_ENV}
        # a session of its own, so a timeout stops the notebook's kernel too
        process = subprocess.Popen(command, cwd=submission.parent, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return {}, f"the notebook did not finish within {timeout:g} s (an endless loop? run it top to bottom yourself)"
        if process.returncode != 0 or not result_file.is_file():
            last = [line for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
            return {}, "the notebook could not be run to the end (" + (last[-1][:200] if last else "no output") + ")"
        data = json.loads(result_file.read_text(encoding="utf-8"))
        return {q: (float(r["score"]), r["reason"]) for q, r in data.items()}, ""


def _run_grader(submission: str, tests: str, result_file: str, executed: str | None = None) -> None:
    """The grading process: otter executes the submission and runs every question's tests."""
    import glob
    import os

    import nbformat
    from otter.execute import grade_notebook as otter_grade

    results = otter_grade(os.path.basename(submission), tests_glob=sorted(glob.glob(os.path.join(tests, "*.py"))),
                          cwd=os.path.dirname(submission), test_dir=tests)
    out = {}
    for q, result in results.results.items():
        failed = [r for r in result.test_case_results if not r.passed]
        out[q] = {"score": result.score, "reason": _reason(failed[0].message) if failed else ""}
    Path(result_file).write_text(json.dumps(out), encoding="utf-8")
    if executed:
        _save_executed(nbformat.read(submission, as_version=4), results.notebook, executed)


def _save_executed(submission: Any, run: Any, path: str) -> None:
    """The submission's own cells with the outputs they got in ``run`` (otter adds cells of its
    own before and after; its log lines in the check cells are dropped)."""
    import nbformat

    ran = iter(run.cells)
    for cell in submission.cells:
        if cell.cell_type != "code":
            continue
        for other in ran:
            if other.cell_type == "code" and other.source == cell.source:
                cell.outputs = [o for o in other.get("outputs", [])
                                if not (o.get("output_type") == "stream" and "otter." in o.get("text", ""))]
                cell.execution_count = other.get("execution_count")
                break
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(submission, path)


def grade(pm: Any, path: str | Path, *, timeout: float = 900, jobs: int = 1,
          executed_dir: Path | None = None) -> list[NotebookGrade]:
    """Grade a notebook, or every notebook in a folder (``jobs`` at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    notebooks = find_notebooks(path)

    def one(notebook: Path) -> NotebookGrade:
        return grade_notebook(pm, notebook, timeout=timeout,
                              executed=executed_dir / notebook.name if executed_dir else None)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, notebooks))


def write_grades_csv(grades: list[NotebookGrade], path: Path) -> None:
    """One row per notebook and question: notebook, lesson, question, status, score, points, reason."""
    import csv
    import io

    from toolkit.runs import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["notebook", "lesson", "question", "status", "score", "points", "reason"])
    for g in grades:
        if not g.questions:
            writer.writerow([g.path.name, g.lesson or "", "", FAILED, 0, 0, g.error])
        for q in g.questions:
            writer.writerow([g.path.name, g.lesson, q.name, q.status, f"{q.score:g}", f"{q.points:g}", q.reason])
    write_text_atomic(path, buffer.getvalue())


if __name__ == "__main__":
    import sys

    _run_grader(*sys.argv[1:])
