"""One run: data -> model -> (privacy) -> train -> evaluate -> explain, firing the lifecycle hooks.

The pipeline knows no BERT: it resolves references through the registry, hands the model a
plugin loaded to the trainer a plugin supplied, and writes the run folder.

A trainer factory (``TrainerSpec.factory``) is called as ``factory(loaded_model, device=...)``
and returns an object with ``check(config)`` (returning the resolved config, with at least
``batch_size`` and ``epochs``), ``fit(train, test, config, run=, privacy=, resume=)``,
``evaluate(examples, config, run=, split=)``, ``predict_proba(texts, text_pairs=None)``,
``save(dir)``, ``label_names``; the factory itself has ``from_saved(model_dir, device=...)``.

Tasks: a dataset says which task its labels are for (``TextDataset.task``), and the task's
record says how many texts an example has (``TaskSpec.inputs``). Examples of a two-input task
carry ``text_pair``; the trainer encodes both, and ``predict`` and ``explain`` of such a run
need one second text per text (``text_pairs``).

Training lives here; :mod:`toolkit.loading` resolves data, models and tasks,
:mod:`toolkit.inference` evaluates and predicts with a finished run and
:mod:`toolkit.explaining` explains its predictions. Every one of their public names is
importable from here too (``pipeline.evaluate``, ``pipeline.explain``, ...).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit import __version__, distributed
from toolkit.context import RunContext
from toolkit.data import TextDataset
from toolkit.errors import ConfigError
from toolkit.explaining import explain, explain_evaluate, make_explainer
from toolkit.inference import check_inputs, evaluate, open_run, predict, run_task
from toolkit.lifecycle import run_scope
from toolkit.loading import (
    DEFAULT_DATA,
    DEFAULT_TRAINER,
    check_task,
    load_data,
    load_model,
    resolve_task,
)
from toolkit.manager import PtmPluginManager
from toolkit.protocols import PrivacyMechanism, Trainer, WordTagger, conform
from toolkit.registry import DatasetSpec, ModelSpec, PrivacySpec, TaskSpec, TrainerSpec
from toolkit.runs import RunFolder, recorded_ref

__all__ = [
    "DEFAULT_DATA", "DEFAULT_TRAINER", "check_inputs", "check_task", "evaluate", "explain", "explain_evaluate",
    "load_data", "load_model", "make_explainer", "open_run", "predict", "resolve_task", "resume", "run_task",
    "stop_on_ctrl_c", "train", "training_split",
]


def _recorded(pm: PtmPluginManager, kind: type, ref: str | None) -> str | None:
    """A reference as a run records it: a registered id as given, a local path absolute."""
    if ref is None or not pm.registry.resolve(kind, ref)[1]:
        return ref
    return recorded_ref(ref)


def train(
    pm: PtmPluginManager,
    *,
    model: str = "minilm",
    data: str | None = None,
    out: str | Path,
    overwrite: bool = False,
    eval_data: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    limit: int | None = None,
    device: str = "auto",
    trainer: str | None = None,
    privacy: str | None = None,
    privacy_options: dict[str, Any] | None = None,
    task: str | None = None,
    _resume: bool = False,
    **hyper: Any,
) -> dict[str, Any]:
    """Fine-tune ``model`` on ``data`` and write a run folder at ``out``; return its metrics.

    Every completed epoch leaves a checkpoint in the run folder (removed once the run
    finishes); Ctrl-C stops training after the current step and marks the run interrupted,
    and :func:`resume` continues it.

    ``task`` (a task id) checks that the data is labelled for it; with no ``data`` the task's
    own dataset is used (``TaskSpec.data``), and with neither, ``reviews``. The task (named, or
    the data's own) picks the model head and, unless ``trainer`` names one, the trainer.

    ``hyper`` holds the trainer's hyper-parameters (``None`` values mean "the default"). With
    ``privacy`` (a privacy id such as ``dp-sgd``) the mechanism is built from
    ``privacy_options`` and its spec's ``defaults`` fill in the hyper-parameters not given.
    """
    registry = pm.registry
    hyper = {k: v for k, v in hyper.items() if v is not None}
    privacy_options = {k: v for k, v in (privacy_options or {}).items() if v is not None}
    mechanism = None
    if privacy is not None:
        privacy_spec = registry.get(PrivacySpec, privacy)
        hyper = {**privacy_spec.defaults, **hyper}
        mechanism = conform(privacy_spec.load()(**privacy_options), PrivacyMechanism,
                            f"privacy '{privacy}' of plugin '{privacy_spec.plugin}'")
    elif privacy_options:
        raise ConfigError(
            f"{', '.join('--' + k.replace('_', '-') for k in privacy_options)} only apply with "
            "--privacy (e.g. --privacy dp-sgd --epsilon 8)"
        )
    seed = int(hyper.get("seed", 42))
    if trainer is not None:
        registry.get(TrainerSpec, trainer)
    task_spec, data = resolve_task(pm, task, data)
    dataset = load_data(pm, data, text_column=text_column, label_column=label_column)
    task_spec = task_spec or registry.get(TaskSpec, dataset.task)
    check_task(task_spec, dataset, data)
    trainer = trainer or task_spec.trainer
    trainer_spec = registry.get(TrainerSpec, trainer)
    trainer_factory = trainer_spec.load()
    per_word = task_spec.labels == "per-word"
    train_rows, test_rows = training_split(dataset, seed=seed, limit=limit)
    if eval_data is not None:
        held_out = load_data(pm, eval_data, text_column=text_column, label_column=label_column)
        if per_word:
            check_task(task_spec, held_out, eval_data)
            held_out = held_out.relabelled(dataset.label_names)
        if held_out.label_names != dataset.label_names:
            raise ConfigError(
                f"--eval-data labels {list(held_out.label_names)} differ from --data labels "
                f"{list(dataset.label_names)}"
            )
        check_task(task_spec, held_out, eval_data)
        test_rows = held_out.evaluation_split()
    present = {t for e in train_rows for t in e.tags} if per_word else {e.label for e in train_rows}
    if len(present) < 2:
        raise ConfigError(
            f"data '{data}' has only one {'tag' if per_word else 'label'} in its training examples "
            f"({dataset.label_names[next(iter(present))] if present else 'none'}); "
            "a classifier needs at least two"
        )
    # Everything that can be wrong with the input is checked before the run folder exists.
    # The seed comes first: loading initialises the classification head at random.
    from toolkit.seeding import seed_everything

    seed_everything(seed)
    loaded = load_model(pm, model, label_names=dataset.label_names, head=task_spec.head)
    fitter = conform(trainer_factory(loaded, device=device), WordTagger if per_word else Trainer,
                     f"trainer '{trainer}' of plugin '{trainer_spec.plugin}'")
    if mechanism is not None and not getattr(fitter, "supports_privacy", True):
        raise ConfigError(f"trainer '{trainer}' cannot train with a privacy mechanism; drop --privacy")
    checked = fitter.check(hyper)
    if mechanism is not None:
        mechanism.plan(len(train_rows), checked.batch_size, checked.epochs)
    if not distributed.is_main():
        # Another process of a torchrun launch: train its share, write and announce nothing.
        run = RunContext("train", config={"hyper": hyper}, device=fitter.device)
        metrics = fitter.fit(train_rows, test_rows, hyper, run=run, privacy=mechanism)
        return {"status": "finished", **metrics}
    if _resume:
        config = {**RunFolder(out).read_json("config.json"), "device": fitter.device}
        config["resumed"] = [*config.get("resumed", []), time.strftime("%Y-%m-%dT%H:%M:%S%z")]
    else:
        # Paths are recorded absolute: `ptm privacy audit` or `--resume` from another folder
        # must read the same files.
        model = _recorded(pm, ModelSpec, model)
        data, eval_data = _recorded(pm, DatasetSpec, data), _recorded(pm, DatasetSpec, eval_data)
        config = {
            "command": "train",
            "model": model,
            "data": data,
            "eval_data": eval_data,
            "text_column": text_column,
            "label_column": label_column,
            "trainer": trainer,
            "task": task_spec.id,
            "label_names": list(dataset.label_names),
            "limit": limit,
            "device": fitter.device,
            "world_size": distributed.world_size(),
            "hyper": hyper,
            "privacy": privacy,
            "privacy_options": privacy_options,
            "toolkit_version": __version__,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    with run_scope("train", config, hooks=pm.hooks, out=out, overwrite=overwrite, resume=_resume,
                   device=fitter.device) as scope, stop_on_ctrl_c(scope.run):
        folder = scope.folder
        assert folder is not None
        metrics = fitter.fit(train_rows, test_rows, hyper, run=scope.run, privacy=mechanism,
                             **({"resume": True} if _resume else {}))
        folder.save_model(fitter.save)
        metrics.update(model=model, data=data, device=fitter.device, label_names=list(dataset.label_names),
                       task=task_spec.id)
        from toolkit.plots import confusion_matrix_plot, training_curves

        training_curves(metrics, folder.path / "curves.png",
                        scores=[(m, task_spec.label_of(m)) for m in task_spec.metrics])
        matrix = (metrics.get("final") or {}).get("confusion_matrix")
        if matrix:
            confusion_matrix_plot(matrix, list(dataset.label_names), folder.path / "confusion.png")
        scope.result = metrics
    shutil.rmtree(folder.checkpoint_dir, ignore_errors=True)  # the run is finished: nothing to resume
    return {"status": "finished", **metrics}


# The settings ``ptm train`` records in config.json, and so the ones a resumed run takes back.
_RESUMED = ("model", "data", "eval_data", "text_column", "label_column", "limit", "trainer",
            "privacy", "privacy_options", "task")


def resume(pm: PtmPluginManager, run_dir: str | Path, *, device: str = "auto",
           progress: bool | None = None) -> dict[str, Any]:
    """Continue an interrupted (or failed) ``train`` run from its last end-of-epoch checkpoint.

    Every setting comes from the run's ``config.json``; with the same seed the result is the
    one the run would have reached without the interruption (privacy accounting included).
    """
    folder = RunFolder(run_dir)
    if not folder.path.is_dir():
        raise ConfigError(f"run folder {folder.path} does not exist; give the --out of a ptm train run")
    status = folder.status()
    if status == "finished":
        raise ConfigError(f"run {folder.path} has finished; there is nothing to resume")
    holder = folder.holder()
    if holder is not None:
        raise ConfigError(f"run folder {folder.path} is being written by {holder}; wait for it, then resume")
    config = folder.read_json("config.json")
    if config.get("command") != "train":
        raise ConfigError(f"{folder.path} is not a ptm train run; only training runs resume")
    if not folder.checkpoint_dir.is_dir():
        raise ConfigError(
            f"run {folder.path} has no checkpoint: it stopped before its first epoch ended; train it again"
        )
    hyper = dict(config.get("hyper") or {})
    if progress is not None:
        hyper["progress"] = progress
    settings = {k: config.get(k) for k in _RESUMED}
    settings["trainer"] = settings["trainer"] or DEFAULT_TRAINER
    return train(pm, out=folder.path, device=device, _resume=True, **settings, **hyper)


@contextmanager
def stop_on_ctrl_c(run: RunContext) -> Iterator[None]:
    """The first Ctrl-C asks the trainer to stop after its current step (``run.stop_requested``);
    a second one stops at once. Only in the main thread, where Python delivers signals."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        if run.stop_requested:
            raise KeyboardInterrupt("stopped at once by a second Ctrl-C")
        run.stop_requested = True
        print("ptm: stopping after this step (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def training_split(
    dataset: TextDataset, *, seed: int = 42, limit: int | None = None
) -> tuple[list[Any], list[Any]]:
    """The examples a run trains and is scored on: what ``train`` uses, replayable from config."""
    train_rows, test_rows = dataset.train_test(seed=seed)
    if limit is not None:
        if limit <= 0:
            raise ConfigError(f"--limit must be a positive number of examples, got {limit}")
        if limit < len(train_rows):
            train_rows = random.Random(seed).sample(train_rows, limit)
    return train_rows, test_rows
