"""``ptm lesson``: the course's lessons: list them, show one's outline, run one headless, write a
notebook for a student or an instructor, and grade submitted notebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from toolkit.cli_errors import ptm_errors
from toolkit.cli_groups import plugin_manager


@click.group("lesson")
def lesson_group() -> None:
    """The course: list the lessons, read one's outline, run it headless, write and grade notebooks."""


@lesson_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def lesson_list_command(as_json: bool) -> None:
    """Every installed lesson, in course order: id, minutes, whether it runs headless, title."""
    from toolkit.lessons import course_order
    from toolkit.registry import Lesson

    lessons = course_order(plugin_manager().registry.records(Lesson))
    rows = [
        {"id": l.id, "title": l.title, "minutes": l.minutes, "quick_minutes": l.quick_minutes,
         "headless_minutes": list(l.headless_minutes),
         "runs_headless": l.factory is not None, "notebook": l.notebook, "plugin": l.plugin, "order": l.order}
        for l in lessons
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    width = max([len(row["id"]) for row in rows] + [6])
    click.echo(f"{'lesson':<{width}}  {'quick':>5}  {'full':>5}  headless  title")
    for row in rows:
        click.echo(f"{row['id']:<{width}}  {_minutes(row['quick_minutes']):>5}  {_minutes(row['minutes']):>5}  "
                   f"{'yes' if row['runs_headless'] else 'no':<8}  {row['title']}")
    click.echo("minutes of the notebook, measured on a 2-core laptop CPU: quick is its default (QUICK = True); "
               "ptm lesson show ID gives the headless run's")


def _minutes(value: float) -> str:
    if not value:
        return "-"
    return f"{value:.0f}m" if value >= 10 else f"{value:.1f}m".replace(".0m", "m")


@lesson_group.command("show")
@click.argument("lesson_id")
def lesson_show_command(lesson_id: str) -> None:
    """A lesson's outline, duration and what it needs."""
    from toolkit.lessons import get_lesson

    with ptm_errors():
        lesson = get_lesson(plugin_manager(), lesson_id)
    click.echo(f"{lesson.title} ({lesson.id}, from {lesson.plugin})")
    if lesson.summary:
        click.echo(lesson.summary)
    for number, step in enumerate(lesson.outline, start=1):
        click.echo(f"  {number}. {step}")
    if lesson.needs:
        click.echo(f"needs: {', '.join(lesson.needs)}")
    times = [f"{_minutes(lesson.quick_minutes)} quick"] if lesson.quick_minutes else []
    if lesson.minutes:
        times.append(f"{_minutes(lesson.minutes)} full")
    if times:
        click.echo(f"time: notebook {', '.join(times)} (measured on a 2-core laptop CPU)")
    if len(lesson.headless_minutes) == 2:
        quick, full = lesson.headless_minutes
        click.echo(f"      ptm lesson run {_minutes(quick)} with --quick, {_minutes(full)} full")
    if lesson.factory:
        click.echo(f"run: ptm lesson run {lesson.id} --quick   (full: ptm lesson run {lesson.id})")
    else:
        click.echo("no headless runner")
    if lesson.notebook:
        click.echo(f"notebook: ptm lesson notebook {lesson.id} --dest DIR   (instructors: --solutions)")
        with ptm_errors():
            questions = _questions(lesson)
        if questions:
            click.echo(f"graded: {len(questions)} questions, {sum(questions.values()):g} points "
                       f"({', '.join(questions)}); ptm lesson grade NOTEBOOK")


def _questions(lesson: Any) -> dict[str, float]:
    """A lesson notebook's graded questions and their points (none for a plain notebook)."""
    from toolkit.grading import assign, is_assign_source
    from toolkit.lessons import notebook_path

    source = notebook_path(lesson)
    return assign(source).points if is_assign_source(source) else {}


@lesson_group.command("run")
@click.argument("lesson_id")
@click.option("--quick", is_flag=True, help="Fewer epochs and steps: the same story in about a minute.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder  [default: runs/ID or runs/ID-quick]")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def lesson_run_command(lesson_id: str, quick: bool, out: Path | None, overwrite: bool, device: str, quiet: bool) -> None:
    """Run a lesson's steps, print its key results and write a run folder with report.html."""
    from toolkit.lessons import run_lesson

    if out is None:
        from toolkit.runs import child

        with ptm_errors():
            out = child("runs", f"{lesson_id}-quick" if quick else lesson_id)
    with ptm_errors():
        result = run_lesson(plugin_manager(), lesson_id, out=out, quick=quick, overwrite=overwrite,
                            device=device, progress=not quiet)
    for name, value in result["numbers"].items():
        click.echo(f"{name}: {value}")
    click.echo(f"claim {'holds' if result['claim_holds'] else 'does NOT hold'}: {result['claim']}")
    if result.get("replaced"):
        click.echo(f"(replaced the earlier run of this lesson in {out})")
    for model in result.get("models", []):
        click.echo(f'trained model: {model}  (ptm predict {model} "some text"; ptm explain {model} "some text")')
    click.echo(f"report: {out / 'report.html'}")


@lesson_group.command("notebook")
@click.argument("lesson_id")
@click.option("--dest", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Folder to write the notebook into.")
@click.option("--solutions", is_flag=True, help="The solution notebook (for instructors) instead of the student's.")
@click.option("--overwrite", is_flag=True, help="Replace a copy already there.")
def lesson_notebook_command(lesson_id: str, dest: Path, solutions: bool, overwrite: bool) -> None:
    """Write a lesson's notebook for a student (exercises blank) or, with --solutions, an instructor."""
    from toolkit.lessons import copy_notebook

    with ptm_errors():
        path = copy_notebook(plugin_manager(), lesson_id, dest, overwrite=overwrite, solutions=solutions)
    click.echo(f"{'solution' if solutions else 'student'} notebook: {path}  (open it with: jupyter lab {path}; "
               f"grade it with: ptm lesson grade {path})")


@lesson_group.command("grade")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--timeout", type=click.FloatRange(min=1), default=900, show_default=True,
              help="Seconds one notebook may run before it is stopped and graded as it stands.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Notebooks graded at once.")
@click.option("--executed", type=click.Path(path_type=Path), default=None,
              help="Folder to save each executed notebook in (to read its outputs).")
def lesson_grade_command(path: Path, as_json: bool, timeout: float, jobs: int, executed: Path | None) -> None:
    """Grade a submitted notebook, or every notebook in a folder (writing grades.csv there).

    Each notebook runs in quick mode, offline, on the CPU, in a process of its own; every
    exercise is passed, failed (with the reason) or not attempted. Exit status 0 only when
    every exercise of every notebook passed, 1 otherwise, 2 for bad input.
    """
    from toolkit.grading import NOT_ATTEMPTED, PASSED, find_notebooks, grade, write_grades_csv

    with ptm_errors():
        find_notebooks(path)
        if executed is not None and executed.exists() and not executed.is_dir():
            from toolkit.errors import ConfigError

            raise ConfigError(f"--executed {executed} is a file; give a folder")
        grades = grade(plugin_manager(), path, timeout=timeout, jobs=jobs, executed_dir=executed)
        csv_path = path / "grades.csv" if path.is_dir() else None
        if csv_path is not None:
            write_grades_csv(grades, csv_path)
    all_passed = all(g.full_marks for g in grades)
    if as_json:
        click.echo(json.dumps({"notebooks": [g.to_json() for g in grades], "all_passed": all_passed,
                               "grades_csv": str(csv_path) if csv_path else None}))
    else:
        for g in grades:
            lesson = f"lesson {g.lesson}" if g.lesson else "no lesson"
            click.echo(f"{g.path.name} ({lesson}): {g.score:g}/{g.points:g} points"
                       + (f" - {g.error}" if g.error else ""))
            width = max([len(q.name) for q in g.questions] + [8])
            for q in g.questions:
                mark = {PASSED: "passed", NOT_ATTEMPTED: "not attempted"}.get(q.status, "FAILED")
                reason = f"  {q.reason}" if q.reason and q.reason != g.error else ""
                click.echo(f"  {mark:<13}  {q.name:<{width}}  {q.score:g}/{q.points:g}{reason}")
        if len(grades) > 1:
            click.echo(f"{sum(g.full_marks for g in grades)} of {len(grades)} notebooks with full marks")
        if csv_path is not None:
            click.echo(f"grades: {csv_path}")
    if not all_passed:
        raise SystemExit(1)
