"""The run's lifecycle, owned by the core: one scope per run, and the events a trainer reports.

Every command that runs something (train, pretrain, evaluate, explain, a lesson) opens one
:func:`run_scope`. It claims and writes the run folder where there is one, fires
``ptm_before_run`` once the folder and its config.json exist, marks the folder finished, failed
or interrupted, and fires ``ptm_after_run`` or ``ptm_on_run_error``: each exactly once.

Inside, a trainer reports its units of work through :class:`RunEvents` (``run.events``):

    with events.epoch(epoch) as epoch_report:
        for batch in loader:
            with events.step(step, batch) as step_report:
                ...
                step_report.loss = loss
        epoch_report.metrics = {...}

Each context manager fires the ``before_`` hook on entry and the ``after_`` hook on a normal
exit. A failure is reported once, by the innermost unit it happened in (a failed step fires
``ptm_on_step_error``, not ``ptm_on_epoch_error`` too), and always by the run
(``ptm_on_run_error``): a run-level observer hears of every failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from toolkit.context import RunContext

if TYPE_CHECKING:  # pragma: no cover - typing only
    from toolkit.hooks import Hooks
    from toolkit.runs import RunFolder

_REPORTED = "__ptm_reported__"
R = TypeVar("R")


def _report_once(error: BaseException) -> bool:
    """True the first time a unit sees ``error``; the units around it then stay quiet."""
    if getattr(error, _REPORTED, False):
        return False
    try:
        setattr(error, _REPORTED, True)
    except AttributeError:  # an exception type with __slots__: report it at every level
        pass
    return True


@dataclass
class EpochReport:
    """What the body of :meth:`RunEvents.epoch` fills in: the epoch's metrics."""

    epoch: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepReport:
    """What the body of :meth:`RunEvents.step` fills in: the step's loss."""

    step: int
    batch: Any
    loss: float = float("nan")


@dataclass
class EvaluationReport:
    """What the body of :meth:`RunEvents.evaluate` fills in: the scores."""

    split: str
    scores: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExplanationReport:
    """What the body of :meth:`RunEvents.explain` fills in: the explanations made."""

    texts: list[str]
    method: str
    explanations: list[Any] = field(default_factory=list)


class RunEvents:
    """The lifecycle hooks of one run, as context managers (see the module's docstring).

    Made by the core for every run; a trainer receives it as ``run.events`` and never calls a
    hook itself. With no hooks (a helper process of a torchrun launch, a direct API call) every
    event is silent.
    """

    def __init__(self, run: RunContext, hooks: Hooks | None = None) -> None:
        self.run = run
        self.hooks = hooks

    def epoch(self, epoch: int) -> AbstractContextManager[EpochReport]:
        report = EpochReport(epoch)
        return self._unit("epoch", report, (epoch,), lambda: report.metrics)

    def step(self, step: int, batch: Any) -> AbstractContextManager[StepReport]:
        report = StepReport(step, batch)
        return self._unit("step", report, (step, batch), lambda: report.loss)

    def evaluate(self, split: str) -> AbstractContextManager[EvaluationReport]:
        report = EvaluationReport(split)
        return self._unit("evaluate", report, (split,), lambda: report.scores)

    def explain(self, texts: Sequence[str], method: str) -> AbstractContextManager[ExplanationReport]:
        report = ExplanationReport(list(texts), method)
        return self._unit("explain", report, (report.texts, method), lambda: report.explanations)

    @contextmanager
    def _unit(self, event: str, report: R, args: tuple[Any, ...], result: Callable[[], Any]) -> Iterator[R]:
        """Fire ``before_<event>``, run the body, then ``after_<event>`` with what the body put
        in ``report`` (``result()``); or ``on_<event>_error`` once, if this unit is the innermost
        one the error passed."""
        hooks = self.hooks
        if hooks:
            getattr(hooks, f"before_{event}")(self.run, *args)
        try:
            yield report
        except BaseException as error:
            if hooks and _report_once(error):
                getattr(hooks, f"on_{event}_error")(self.run, *args, error)
            raise
        if hooks:
            getattr(hooks, f"after_{event}")(self.run, *args, result())


def events_of(run: RunContext | None, command: str = "train") -> RunEvents:
    """The run's events; silent ones when there is no run, or a run the core did not open."""
    if run is not None and run.events is not None:
        return run.events
    return RunEvents(run or RunContext(command))


def silent_events(command: str = "train") -> RunEvents:
    """Events that fire nothing, for a trainer used outside a run (tests, notebooks)."""
    return RunEvents(RunContext(command))


@dataclass
class RunScope:
    """What :func:`run_scope` yields: the run, its events, its folder (if any), and the result
    the body sets (``scope.result = metrics``) for ``ptm_after_run`` and metrics.json."""

    run: RunContext
    events: RunEvents
    folder: RunFolder | None = None
    result: dict[str, Any] = field(default_factory=dict)


@contextmanager
def run_scope(
    command: str,
    config: Mapping[str, Any],
    *,
    hooks: Hooks | None,
    out: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    device: str = "cpu",
    finish: bool = True,
) -> Iterator[RunScope]:
    """One run, from its folder to its last hook (see the module's docstring).

    With ``out`` the folder is created (or, with ``resume``, claimed again) and ``config``
    written to its config.json before ``ptm_before_run``; ``finish`` writes metrics.json with
    ``"status": "finished"`` and ``scope.result`` when the body ends. If the body raises, the
    folder is marked failed (interrupted for Ctrl-C, with the epoch a resume continues from),
    ``ptm_on_run_error`` fires and the error goes on. ``ptm_after_run`` gets ``scope.result``.
    """
    from toolkit.runs import RunFolder

    folder = None
    if out is not None:
        if resume:
            folder = RunFolder(out)
            folder.claim()  # a second `--resume` of the same run waits its turn
        else:
            folder = RunFolder.create(out, overwrite=overwrite)
        try:
            folder.write_json("config.json", dict(config))
        except BaseException as error:
            folder.fail(error)
            raise
    run = RunContext(command, config=dict(config), out_dir=folder.path if folder else None, device=device)
    scope = RunScope(run=run, events=RunEvents(run, hooks), folder=folder)
    run.events = scope.events
    try:
        if hooks:
            hooks.before_run(run)
        yield scope
        if folder is not None and finish:
            folder.finish(scope.result)
    except BaseException as error:
        if folder is not None:
            # checkpoint_epoch: what `ptm train --resume` continues from
            resumable = {} if run.checkpoint_epoch is None else {"checkpoint_epoch": run.checkpoint_epoch}
            folder.fail(error, **resumable)
        if hooks:
            hooks.on_run_error(run, error)
        raise
    if hooks:
        hooks.after_run(run, scope.result)
