"""Running a lesson headless: its steps, its measured claim, and a run folder with report.html.

A :class:`~toolkit.registry.Lesson` with a ``factory`` can be run by ``ptm lesson run ID``. The
factory is called as ``factory(pm, out=Path, quick=bool, device=str, progress=bool)``; it does
the lesson's work (writing any runs it trains under ``out``) and returns a
:class:`LessonResult`. The core's run scope (:func:`toolkit.lifecycle.run_scope`) makes the
folder and fires the run hooks; this module records the result in ``metrics.json`` and writes
``report.html``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, PtmError
from toolkit.lifecycle import run_scope
from toolkit.registry import Lesson
from toolkit.report import Section, write_report
from toolkit.runs import RunFolder


def course_order(lessons: list[Lesson]) -> list[Lesson]:
    """Lessons in the order of the course: by their ``order``, then by id."""
    return sorted(lessons, key=lambda lesson: (lesson.order, lesson.id))


@dataclass
class LessonResult:
    """What a lesson measured.

    Attributes:
        claim: the sentence the lesson ends with, e.g. "MiniLM beats the majority class".
        holds: whether the measurements on held-out data bear the claim out.
        numbers: the key results, printed by ``ptm lesson run`` and kept in metrics.json.
        sections: the narrative of the report, in order.
    """

    claim: str
    holds: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


def get_lesson(pm: Any, lesson_id: str) -> Lesson:
    return pm.registry.get(Lesson, lesson_id)


def notebook_path(lesson: Lesson) -> Path:
    """The file of a lesson's notebook (``"package:file.ipynb"`` resolved in the installed package)."""
    from importlib import resources

    if not lesson.notebook:
        raise ConfigError(f"lesson '{lesson.id}' has no notebook; run it with ptm lesson run {lesson.id}")
    package, _, name = lesson.notebook.rpartition(":")
    try:
        path = Path(str(resources.files(package) / name)) if package else Path(name)
    except ModuleNotFoundError:
        path = Path(lesson.notebook)
    if not path.is_file():
        raise PtmError(
            f"lesson '{lesson.id}' of plugin '{lesson.plugin}' names notebook {lesson.notebook}, "
            "which is not installed; reinstall the plugin"
        )
    return path


def copy_notebook(pm: Any, lesson_id: str, dest: str | Path, *, overwrite: bool = False,
                  solutions: bool = False) -> Path:
    """Write lesson ``lesson_id``'s student notebook (exercises blank) into the folder ``dest``,
    or with ``solutions`` the solution notebook (for instructors); never replace a file
    silently (a student's edited copy may be there).

    A lesson whose source has no graded exercises (a third party's plain notebook) is copied
    as it is.
    """
    import shutil

    from toolkit.grading import assign, is_assign_source
    from toolkit.runs import folder_error, make_folder, write_atomic

    source = notebook_path(get_lesson(pm, lesson_id))
    folder = Path(dest)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--dest {folder} is a file; give a folder")
    target = folder / source.name
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists (your copy?); choose another --dest or pass --overwrite")
    make_folder(folder)  # before the notebook is assigned: a bad --dest is refused at once
    if is_assign_source(source):
        assigned = assign(source)
        source = assigned.solution if solutions else assigned.student
    try:
        write_atomic(target, lambda tmp: shutil.copyfile(source, tmp))
    except OSError as error:
        raise folder_error(folder, error) from None
    return target


def run_lesson(
    pm: Any,
    lesson_id: str,
    *,
    out: str | Path,
    quick: bool = False,
    overwrite: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Run lesson ``lesson_id`` into the folder ``out``; return what metrics.json records.

    A folder that holds an earlier run of the same lesson is replaced (running a lesson again
    is the natural thing to do); any other non-empty folder needs ``overwrite``. The result
    says whether an earlier run was replaced (``replaced``) and lists the trained models the
    lesson left in its folder (``models``), for ``ptm predict``/``explain``/``evaluate``.
    """
    lesson = get_lesson(pm, lesson_id)
    if lesson.factory is None:
        raise ConfigError(
            f"lesson '{lesson_id}' has no headless runner; open its notebook instead "
            f"(ptm lesson notebook {lesson_id})"
        )
    runner = lesson.load()
    replaced = _holds_lesson(Path(out), lesson_id)
    config = {
        "command": "lesson",
        "lesson": lesson_id,
        "title": lesson.title,
        "quick": quick,
        "device": device,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    started = time.perf_counter()
    with run_scope("lesson", config, hooks=pm.hooks, out=out, overwrite=overwrite or replaced, device=device,
                   finish=False) as scope:
        folder = scope.folder
        assert folder is not None
        result = runner(pm, out=folder.path, quick=quick, device=device, progress=progress)
        if not isinstance(result, LessonResult):
            raise PtmError(
                f"lesson '{lesson_id}' of plugin '{lesson.plugin}' returned "
                f"{type(result).__name__}, not a LessonResult"
            )
        runs = folder.models()
        models = [str(path) for path in runs]
        metrics = {
            "lesson": lesson_id,
            "quick": quick,
            "claim": result.claim,
            "claim_holds": result.holds,
            "numbers": result.numbers,
            "models": models,
            "seconds": time.perf_counter() - started,
        }
        used = _devices(runs)
        if used:
            metrics["device"] = used  # what "auto" became, as the runs inside recorded it
        verdict = "holds" if result.holds else "does NOT hold"
        closing = Section(
            "The claim",
            text=f"{result.claim}\n\nOn this run the claim {verdict}.",
            numbers=result.numbers,
        )
        scope.result = metrics
        folder.finish(metrics)  # before the report, which shows the finished run
        write_report(folder.path, title=lesson.title, sections=[*result.sections, closing])
    return {"status": "finished", "replaced": replaced, **metrics}


def _holds_lesson(path: Path, lesson_id: str) -> bool:
    """Whether ``path`` is a folder an earlier ``ptm lesson run`` of this same lesson wrote."""
    if not (path / "config.json").is_file() or path.is_symlink():
        return False
    try:
        config = RunFolder(path).read_json("config.json")
    except PtmError:
        return False
    return isinstance(config, dict) and config.get("command") == "lesson" and config.get("lesson") == lesson_id


def _devices(runs: list[Path]) -> str:
    """The devices the trained runs of a lesson recorded, e.g. ``cpu``."""
    found = [RunFolder(run).read_json("metrics.json", missing={}).get("device") for run in runs]
    return ", ".join(dict.fromkeys(d for d in found if isinstance(d, str)))
