"""The plugin contract: every ``ptm_*`` hook, typed and documented.

This is the single page a plugin author needs. There are two families:

* **Registration hooks** (``ptm_register_*``), called once per plugin manager, the first
  time the toolkit needs its registry (or its CLI). Each receives a ``register`` callable
  that accepts one kind of record (see :mod:`toolkit.registry`) and returns it. They return
  ``None``. Records from every plugin are collected; an id may be used once per kind.
* **Lifecycle hooks**, kedro's triple for each event (run, epoch, step, evaluate, explain):
  ``ptm_before_<event>``, ``ptm_after_<event>`` and ``ptm_on_<event>_error``. The three share
  their argument names; ``after`` adds the event's result and ``on_error`` adds ``error``.
  They are observers: every implementation is called, return values are ignored, and the
  toolkit never calls them with anything a hook may replace. An ``on_error`` hook is called
  before the error propagates; it cannot swallow it.

Implementations may accept fewer arguments than a spec names (pluggy passes only the ones
an implementation asks for), and specs only ever gain arguments, so a plugin written for
an old version keeps working.

Mark implementations with :data:`toolkit.hookimpl`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from toolkit import PROJECT_NAME

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from toolkit.context import RunContext
    from toolkit.registry import (
        DatasetSpec,
        ExplainerSpec,
        Lesson,
        ModelSpec,
        PrivacySpec,
        TaskSpec,
        TrainerSpec,
    )

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)

# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_register_models(register: Callable[[ModelSpec], ModelSpec]) -> None:
    """Register the models this plugin provides.

    Called once, the first time the registry is built.

    Args:
        register: call it with one :class:`~toolkit.registry.ModelSpec` per model.

    Returns:
        None. Records from all plugins are collected; a model id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_datasets(register: Callable[[DatasetSpec], DatasetSpec]) -> None:
    """Register the datasets this plugin provides.

    Called once, the first time the registry is built.

    Args:
        register: call it with one :class:`~toolkit.registry.DatasetSpec` per dataset.

    Returns:
        None. Records from all plugins are collected; a dataset id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_tasks(register: Callable[[TaskSpec], TaskSpec]) -> None:
    """Register the tasks (what goes in, what comes out, how it is scored) this plugin provides.

    Called once, the first time the registry is built. A task takes one text
    (``inputs=("text",)``) or a sentence pair (``inputs=("text", "text_pair")``: its
    examples carry ``text_pair``, the trainer encodes both texts, and ``ptm predict`` and
    ``ptm explain`` take ``--pair``); ``data`` names the dataset ``ptm train --task ID``
    uses by default. Datasets name their task (``DatasetSpec.task``).

    Args:
        register: call it with one :class:`~toolkit.registry.TaskSpec` per task.

    Returns:
        None. Records from all plugins are collected; a task id may be registered once.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1 tasks may take sentence pairs; ``TaskSpec.data``.
    """


@_hookspec
def ptm_register_trainers(register: Callable[[TrainerSpec], TrainerSpec]) -> None:
    """Register the training loops this plugin provides (fine-tuning, pretraining, ...).

    Called once, the first time the registry is built.

    Args:
        register: call it with one :class:`~toolkit.registry.TrainerSpec` per trainer.

    Returns:
        None. Records from all plugins are collected; a trainer id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_privacy(register: Callable[[PrivacySpec], PrivacySpec]) -> None:
    """Register the privacy mechanisms this plugin provides (for example DP-SGD).

    Called once, the first time the registry is built. A mechanism wraps the trainer's model,
    optimizer, loss and data loader; :class:`~toolkit.registry.PrivacySpec` documents the
    methods its factory's object must have (``plan``, ``wrap``, ``accumulate``, ``epsilon``,
    ``report``, ``close``). ``ptm train --privacy ID --epsilon E`` uses it.

    Args:
        register: call it with one :class:`~toolkit.registry.PrivacySpec` per mechanism.

    Returns:
        None. Records from all plugins are collected; a privacy id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_explainers(register: Callable[[ExplainerSpec], ExplainerSpec]) -> None:
    """Register the attribution methods this plugin provides (for example integrated gradients).

    Called once, the first time the registry is built. The factory is called as
    ``factory(model, tokenizer, **options)``; its ``explain(texts, *, target=None)`` returns
    one :class:`toolkit.explanations.Explanation` per text. To explain sentence pairs it also
    takes ``text_pairs=`` (``ptm explain --pair``); without it, pair runs refuse the method.

    Args:
        register: call it with one :class:`~toolkit.registry.ExplainerSpec` per method.

    Returns:
        None. Records from all plugins are collected; an explainer id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_lessons(register: Callable[[Lesson], Lesson]) -> None:
    """Register the lessons (course units with a notebook) this plugin provides.

    Called once, the first time the registry is built.

    Args:
        register: call it with one :class:`~toolkit.registry.Lesson` per lesson.

    Returns:
        None. Records from all plugins are collected; a lesson id may be registered once.

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_register_commands(cli: click.Group) -> None:
    """Add command-line commands to ``ptm``.

    Called once when the CLI is built, after the core's own commands exist. Use
    ``cli.add_command(...)``; import heavy libraries inside the command, not at module level,
    so that ``ptm --help`` stays fast.

    Args:
        cli: the top-level ``ptm`` click group.

    Returns:
        None. Every plugin's commands are added; a name the core or another plugin already
        uses is an error naming both.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------
# Lifecycle: run
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_before_run(run: RunContext) -> None:
    """Called when a run (train, evaluate, explain, pretrain, lesson) starts, before any work.

    Args:
        run: the run's context: id, command, config, run folder, device.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_after_run(run: RunContext, metrics: dict[str, Any]) -> None:
    """Called when a run has finished and its results are written.

    Args:
        run: the run's context.
        metrics: the run's final metrics, as written to ``metrics.json``.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_on_run_error(run: RunContext, error: BaseException) -> None:
    """Called when a run fails or is interrupted, before the error propagates.

    Args:
        run: the run's context.
        error: the exception (``KeyboardInterrupt`` for Ctrl-C).

    Returns:
        None (observer; every implementation is called; the error propagates regardless).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------
# Lifecycle: epoch
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_before_epoch(run: RunContext, epoch: int) -> None:
    """Called at the start of each training epoch.

    Args:
        run: the run's context.
        epoch: the epoch about to start, counted from 1.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_after_epoch(run: RunContext, epoch: int, metrics: dict[str, Any]) -> None:
    """Called at the end of each training epoch, after its evaluation.

    Args:
        run: the run's context.
        epoch: the epoch that finished, counted from 1.
        metrics: that epoch's metrics (training loss, evaluation scores, privacy spent, ...).

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_on_epoch_error(run: RunContext, epoch: int, error: BaseException) -> None:
    """Called when an epoch fails or is interrupted, before the error propagates.

    Args:
        run: the run's context.
        epoch: the epoch that failed, counted from 1.
        error: the exception.

    Returns:
        None (observer; every implementation is called; the error propagates regardless).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------
# Lifecycle: training step
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_before_step(run: RunContext, step: int, batch: Any) -> None:
    """Called before each optimisation step's forward pass.

    Args:
        run: the run's context.
        step: the global step about to run, counted from 1.
        batch: the batch (a mapping of tensors); treat it as read-only.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_after_step(run: RunContext, step: int, batch: Any, loss: float) -> None:
    """Called after each optimisation step (forward, backward, optimizer update).

    Args:
        run: the run's context.
        step: the global step that finished, counted from 1.
        batch: the batch it used; treat it as read-only.
        loss: the step's training loss as a Python float.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_on_step_error(run: RunContext, step: int, batch: Any, error: BaseException) -> None:
    """Called when a training step fails, before the error propagates.

    Args:
        run: the run's context.
        step: the global step that failed, counted from 1.
        batch: the batch it used.
        error: the exception.

    Returns:
        None (observer; every implementation is called; the error propagates regardless).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------
# Lifecycle: evaluation
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_before_evaluate(run: RunContext, split: str) -> None:
    """Called before a model is evaluated on a dataset split.

    Args:
        run: the run's context.
        split: the name of the split being evaluated (``"test"``, ``"dev"``, ...).

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_after_evaluate(run: RunContext, split: str, metrics: dict[str, Any]) -> None:
    """Called after an evaluation, with its scores.

    Args:
        run: the run's context.
        split: the name of the split evaluated.
        metrics: the scores (accuracy, macro-F1, confusion matrix, n, ...).

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_on_evaluate_error(run: RunContext, split: str, error: BaseException) -> None:
    """Called when an evaluation fails, before the error propagates.

    Args:
        run: the run's context.
        split: the name of the split being evaluated.
        error: the exception.

    Returns:
        None (observer; every implementation is called; the error propagates regardless).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------
# Lifecycle: explanation
# --------------------------------------------------------------------------------------


@_hookspec
def ptm_before_explain(run: RunContext, texts: Sequence[str], method: str) -> None:
    """Called before attributions are computed for a list of texts.

    Args:
        run: the run's context.
        texts: the texts to explain.
        method: the explainer id (``"ig"``, ``"saliency"``, ...).

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_after_explain(
    run: RunContext, texts: Sequence[str], method: str, explanations: Sequence[Any]
) -> None:
    """Called after attributions are computed, with one explanation per text.

    Args:
        run: the run's context.
        texts: the texts explained.
        method: the explainer id.
        explanations: one result record per text, in the order of ``texts``.

    Returns:
        None (observer; every implementation is called).

    .. versionadded:: 0.1
    """


@_hookspec
def ptm_on_explain_error(
    run: RunContext, texts: Sequence[str], method: str, error: BaseException
) -> None:
    """Called when computing attributions fails, before the error propagates.

    Args:
        run: the run's context.
        texts: the texts being explained.
        method: the explainer id.
        error: the exception.

    Returns:
        None (observer; every implementation is called; the error propagates regardless).

    .. versionadded:: 0.1
    """


REGISTRATION_HOOKS: tuple[str, ...] = (
    "ptm_register_models",
    "ptm_register_datasets",
    "ptm_register_tasks",
    "ptm_register_trainers",
    "ptm_register_privacy",
    "ptm_register_explainers",
    "ptm_register_lessons",
)
"""The record-registration hooks, in the order the registry calls them."""

LIFECYCLE_EVENTS: tuple[str, ...] = ("run", "epoch", "step", "evaluate", "explain")
"""The events that have a before/after/on-error triple."""
