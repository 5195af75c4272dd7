"""One run: data -> model -> (privacy) -> train -> evaluate -> explain, firing the lifecycle hooks.

The pipeline knows no BERT: it resolves references through the registry, hands the model a
plugin loaded to the trainer a plugin supplied, and writes the run folder.

A trainer factory (``TrainerSpec.factory``) is called as ``factory(loaded_model, device=...)``
and returns an object with ``check(config)`` (returning the resolved config, with at least
``batch_size`` and ``epochs``), ``fit(train, test, config, run=, hooks=, privacy=)``,
``evaluate(examples, config, run=, hooks=, split=)``, ``predict_proba(texts, text_pairs=None)``,
``save(dir)``, ``label_names``; the factory itself has ``from_saved(model_dir, device=...)``.

Tasks: a dataset says which task its labels are for (``TextDataset.task``), and the task's
record says how many texts an example has (``TaskSpec.inputs``). Examples of a two-input task
carry ``text_pair``; the trainer encodes both, and ``predict`` and ``explain`` of such a run
need one second text per text (``text_pairs``).
"""

from __future__ import annotations

import inspect
import random
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit import __version__, distributed
from toolkit.context import RunContext
from toolkit.data import TextDataset
from toolkit.errors import ConfigError, PtmError, UnknownIdError
from toolkit.manager import PtmPluginManager
from toolkit.explanations import Explanation
from toolkit.registry import (
    DatasetSpec,
    ExplainerSpec,
    ModelSpec,
    PrivacySpec,
    TaskSpec,
    TrainerSpec,
    closest,
)
from toolkit.runs import RunFolder, recorded_ref

DEFAULT_TRAINER = "finetune"


def load_data(
    pm: PtmPluginManager,
    ref: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
) -> TextDataset:
    """A dataset by registered id (``reviews``), path (``data.tsv``) or ``hf:name``."""
    registry = pm.registry
    try:
        spec, claimed = registry.resolve(DatasetSpec, ref)
    except UnknownIdError as error:
        raise ConfigError(
            f"{error} Data can also be a .tsv, .csv or .jsonl file, or hf:NAME"
        ) from None
    options: dict[str, Any] = {}
    if claimed:
        options = {"ref": ref, "text_column": text_column, "label_column": label_column}
    elif text_column or label_column:
        raise ConfigError(f"--text-column/--label-column apply to files, not to dataset '{ref}'")
    dataset = spec.load()(**options)
    if not isinstance(dataset, TextDataset):
        raise PtmError(
            f"dataset '{spec.id}' of plugin '{spec.plugin}' returned {type(dataset).__name__}, "
            "not a TextDataset"
        )
    return dataset


def load_model(pm: PtmPluginManager, ref: str, *, label_names: Sequence[str]) -> Any:
    """A model by registered id (``minilm``), folder, or Hugging Face id, with a fresh head."""
    registry = pm.registry
    spec, claimed = registry.resolve(ModelSpec, ref)
    options = {"num_labels": len(label_names), "labels": list(label_names)}
    try:
        return spec.load()(**({"ref": ref} if claimed else {}), **options)
    except PtmError as error:
        near = closest(ref, registry.ids(ModelSpec)) if claimed else []
        if near:
            raise ConfigError(f"{error} Did you mean '{near[0]}'?") from None
        raise


DEFAULT_DATA = "reviews"


def _recorded(pm: PtmPluginManager, kind: type, ref: str | None) -> str | None:
    """A reference as a run records it: a registered id as given, a local path absolute."""
    if ref is None or not pm.registry.resolve(kind, ref)[1]:
        return ref
    return recorded_ref(ref)


def resolve_task(pm: PtmPluginManager, task: str | None, data: str | None) -> tuple[TaskSpec | None, str]:
    """The task asked for (if any) and the data to train on: the task's own data when none is
    named, else the default dataset."""
    if task is None:
        return None, data or DEFAULT_DATA
    spec = pm.registry.get(TaskSpec, task)
    if data is None:
        if not spec.data:
            raise ConfigError(f"task '{task}' has no default data; name some with --data")
        data = spec.data
    return spec, data


def check_task(spec: TaskSpec, dataset: TextDataset, data: str) -> None:
    """Data must be labelled for the task, and carry as many texts per example as it takes."""
    if dataset.task != spec.id:
        raise ConfigError(
            f"data '{data}' is labelled for task '{dataset.task}', not '{spec.id}'"
            + (f"; try --data {spec.data}" if spec.data else "; give data made for that task")
        )
    pairs = len(spec.inputs) == 2
    bad = next((e for rows in dataset.splits.values() for e in rows if (e.text_pair is None) == pairs), None)
    if bad is not None:
        have = "one text" if pairs else "two texts"
        raise ConfigError(
            f"data '{data}' has an example with {have} ('{bad.text[:30]}'), but task "
            f"'{spec.id}' takes {len(spec.inputs)} ({', '.join(spec.inputs)})"
        )


def run_task(pm: PtmPluginManager, folder: RunFolder) -> TaskSpec:
    """The task a run was trained for (runs from before tasks were recorded: one text)."""
    config = folder.read_json("config.json")
    return pm.registry.get(TaskSpec, config.get("task") or "text-classification")


def check_inputs(task: TaskSpec, texts: Sequence[str], text_pairs: Sequence[str] | None) -> None:
    """A second text for each text exactly when the task takes pairs."""
    if len(task.inputs) == 2:
        if text_pairs is None:
            raise ConfigError(
                f"the model was trained for task '{task.id}', which takes two texts "
                f"({', '.join(task.inputs)}): give --pair TEXT once for each text"
            )
        if len(text_pairs) != len(texts) or any(not p.strip() for p in text_pairs):
            raise ConfigError(
                f"{len(texts)} texts but {len(text_pairs)} non-empty --pair texts: give one per text"
            )
    elif text_pairs:
        raise ConfigError(f"--pair applies to sentence-pair tasks; task '{task.id}' takes one text")


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
    trainer: str = DEFAULT_TRAINER,
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
    own dataset is used (``TaskSpec.data``), and with neither, ``reviews``.

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
        mechanism = privacy_spec.load()(**privacy_options)
    elif privacy_options:
        raise ConfigError(
            f"{', '.join('--' + k.replace('_', '-') for k in privacy_options)} only apply with "
            "--privacy (e.g. --privacy dp-sgd --epsilon 8)"
        )
    seed = int(hyper.get("seed", 42))
    trainer_factory = registry.get(TrainerSpec, trainer).load()
    task_spec, data = resolve_task(pm, task, data)
    dataset = load_data(pm, data, text_column=text_column, label_column=label_column)
    task_spec = task_spec or registry.get(TaskSpec, dataset.task)
    check_task(task_spec, dataset, data)
    train_rows, test_rows = training_split(dataset, seed=seed, limit=limit)
    if eval_data is not None:
        held_out = load_data(pm, eval_data, text_column=text_column, label_column=label_column)
        if held_out.label_names != dataset.label_names:
            raise ConfigError(
                f"--eval-data labels {list(held_out.label_names)} differ from --data labels "
                f"{list(dataset.label_names)}"
            )
        check_task(task_spec, held_out, eval_data)
        test_rows = held_out.evaluation_split()
    present = {e.label for e in train_rows}
    if len(present) < 2:
        raise ConfigError(
            f"data '{data}' has only one label in its training examples "
            f"({dataset.label_names[next(iter(present))] if present else 'none'}); "
            "a classifier needs at least two"
        )
    # Everything that can be wrong with the input is checked before the run folder exists.
    # The seed comes first: loading initialises the classification head at random.
    from toolkit.seeding import seed_everything

    seed_everything(seed)
    loaded = load_model(pm, model, label_names=dataset.label_names)
    fitter = trainer_factory(loaded, device=device)
    checked = fitter.check(hyper)
    if mechanism is not None:
        mechanism.plan(len(train_rows), checked.batch_size, checked.epochs)
    if not distributed.is_main():
        # Another process of a torchrun launch: train its share, write and announce nothing.
        run = RunContext("train", config={"hyper": hyper}, device=fitter.device)
        metrics = fitter.fit(train_rows, test_rows, hyper, run=run, hooks=None, privacy=mechanism)
        return {"status": "finished", **metrics}
    if _resume:
        folder = RunFolder(out)
        folder.claim()  # so a second `--resume` of the same run waits its turn
        config = {**folder.read_json("config.json"), "device": fitter.device}
        config["resumed"] = [*config.get("resumed", []), time.strftime("%Y-%m-%dT%H:%M:%S%z")]
    else:
        folder = RunFolder.create(out, overwrite=overwrite)
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
            "task": dataset.task,
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
    folder.write_json("config.json", config)
    run = RunContext("train", config=config, out_dir=folder.path, device=fitter.device)
    hooks = pm.hooks
    with recorded_run(folder, run, hooks), stop_on_ctrl_c(run):
        metrics = fitter.fit(train_rows, test_rows, hyper, run=run, hooks=hooks, privacy=mechanism,
                             **({"resume": True} if _resume else {}))
        folder.save_model(fitter.save)
        metrics.update(model=model, data=data, device=fitter.device, label_names=list(dataset.label_names))
        from toolkit.plots import confusion_matrix_plot, training_curves

        training_curves(metrics, folder.path / "curves.png")
        matrix = (metrics.get("final") or {}).get("confusion_matrix")
        if matrix:
            confusion_matrix_plot(matrix, list(dataset.label_names), folder.path / "confusion.png")
        folder.finish(metrics)
        shutil.rmtree(folder.checkpoint_dir, ignore_errors=True)
    hooks.after_run(run, metrics)
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


@contextmanager
def recorded_run(folder: RunFolder, run: RunContext, hooks: Any) -> Iterator[None]:
    """Fire ``before_run``; if the body raises, mark the folder failed (or interrupted), fire
    ``on_run_error`` and re-raise, so a half-done run never looks finished. The caller fires
    ``after_run`` with its metrics once the body is done."""
    try:
        hooks.before_run(run)
        yield
    except BaseException as error:
        # checkpoint_epoch: what `ptm train --resume` continues from
        resumable = {} if run.checkpoint_epoch is None else {"checkpoint_epoch": run.checkpoint_epoch}
        folder.fail(error, **resumable)
        hooks.on_run_error(run, error)
        raise


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


def open_run(pm: PtmPluginManager, run_dir: str | Path, *, device: str = "auto") -> tuple[RunFolder, Any]:
    """A finished run folder and its trainer, ready to evaluate or predict."""
    folder = RunFolder.open(run_dir)
    config = folder.read_json("config.json")
    factory = pm.registry.get(TrainerSpec, config.get("trainer", DEFAULT_TRAINER)).load()
    return folder, factory.from_saved(folder.model_dir, device=device)


def evaluate(
    pm: PtmPluginManager,
    run_dir: str | Path,
    *,
    data: str,
    text_column: str | None = None,
    label_column: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Score a finished run on a dataset's test split (or on every row of a file)."""
    folder, fitter = open_run(pm, run_dir, device=device)
    dataset = load_data(pm, data, text_column=text_column, label_column=label_column)
    check_task(run_task(pm, folder), dataset, data)
    if list(dataset.label_names) != list(fitter.label_names):
        raise ConfigError(
            f"data '{data}' has labels {list(dataset.label_names)} but the model in {folder.path} "
            f"was trained on {list(fitter.label_names)}"
        )
    split = "test" if "test" in dataset.splits else "all"
    examples = dataset.evaluation_split()
    run = RunContext("evaluate", config={"run": str(folder.path), "data": data}, device=fitter.device)
    hooks = pm.hooks
    try:
        hooks.before_run(run)
        scores = fitter.evaluate(examples, run=run, hooks=hooks, split=split)
    except BaseException as error:
        hooks.on_run_error(run, error)
        raise
    hooks.after_run(run, scores)
    return scores


def predict(
    pm: PtmPluginManager,
    run_dir: str | Path,
    texts: Sequence[str],
    *,
    text_pairs: Sequence[str] | None = None,
    device: str = "auto",
) -> list[dict[str, Any]]:
    """The predicted label and its probability for each text (with its second text, for a
    sentence-pair task), with every class's probability."""
    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise ConfigError("give at least one non-empty text to predict")
    folder, fitter = open_run(pm, run_dir, device=device)
    pairs = list(text_pairs) if text_pairs else None
    check_inputs(run_task(pm, folder), texts, pairs)
    probs = fitter.predict_proba(texts, text_pairs=pairs) if pairs else fitter.predict_proba(texts)
    names = fitter.label_names
    out = []
    for i, (text, row) in enumerate(zip(texts, probs.tolist())):
        best = max(range(len(row)), key=row.__getitem__)
        out.append(
            {
                "text": text,
                **({"text_pair": pairs[i]} if pairs else {}),
                "label": names[best],
                "probability": row[best],
                "probabilities": dict(zip(names, row)),
            }
        )
    return out


def make_explainer(pm: PtmPluginManager, model: Any, tokenizer: Any, method: str,
                   options: dict[str, Any]) -> Any:
    """The explainer ``method`` for a model (``None`` options mean "the method's default")."""
    spec = pm.registry.get(ExplainerSpec, method)
    options = {k: v for k, v in options.items() if v is not None}
    factory = spec.load()
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None  # nothing to check against: let the call speak
    if signature is not None:
        params = signature.parameters
        named = [n for n, p in list(params.items())[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = sorted(set(options) - set(named))
        if unknown and not takes_any:
            # A plugin's explainer without that option: one line, not a TypeError traceback.
            raise ConfigError(
                f"explainer '{method}' has no option {', '.join(unknown)} (options: {', '.join(named) or 'none'})"
            )
    return factory(model, tokenizer, **options)


def _explain(pm: PtmPluginManager, explainer: Any, run: RunContext, texts: list[str], method: str,
             target: int | str | None, text_pairs: list[str] | None = None) -> list[Explanation]:
    hooks = pm.hooks
    hooks.before_explain(run, texts, method)
    try:
        if text_pairs is None:
            explanations = list(explainer.explain(texts, target=target))
        else:
            if "text_pairs" not in inspect.signature(explainer.explain).parameters:
                raise ConfigError(
                    f"explainer '{method}' explains one text at a time, not sentence pairs; "
                    "use one that does (ig, saliency, input-x-gradient, occlusion, kernel-shap)"
                )
            explanations = list(explainer.explain(texts, target=target, text_pairs=text_pairs))
        bad = [type(e).__name__ for e in explanations if not isinstance(e, Explanation)]
        if bad:
            raise PtmError(f"explainer '{method}' returned {bad[0]}, not a toolkit Explanation")
    except BaseException as error:
        hooks.on_explain_error(run, texts, method, error)
        raise
    hooks.after_explain(run, texts, method, explanations)
    return explanations


def explain(
    pm: PtmPluginManager,
    run_dir: str | Path,
    texts: Sequence[str],
    *,
    method: str = "ig",
    target: int | str | None = None,
    text_pairs: Sequence[str] | None = None,
    device: str = "auto",
    **options: Any,
) -> list[Explanation]:
    """Explain a trained run's prediction for each text with explainer ``method``.

    ``options`` go to the explainer (``n_steps``, ``baseline``, ``delta_tolerance``, ...);
    ``target`` (class index or label) defaults to the predicted class. For a run of a
    sentence-pair task, ``text_pairs`` gives each text's second text, and the attributions
    cover both.
    """
    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise ConfigError("give at least one non-empty text to explain")
    pm.registry.get(ExplainerSpec, method)
    pairs = list(text_pairs) if text_pairs else None
    folder, fitter = open_run(pm, run_dir, device=device)
    check_inputs(run_task(pm, folder), texts, pairs)
    explainer = make_explainer(pm, fitter.model, fitter.tokenizer, method, options)
    config = {"run": str(folder.path), "method": method, "target": target, "options": options}
    run = RunContext("explain", config=config, device=fitter.device)
    run.model, run.tokenizer = fitter.model, fitter.tokenizer
    hooks = pm.hooks
    try:
        hooks.before_run(run)
        explanations = _explain(pm, explainer, run, texts, method, target, pairs)
    except BaseException as error:
        hooks.on_run_error(run, error)
        raise
    hooks.after_run(run, {"explained": len(explanations)})
    return explanations


# Sentences per explainer call in explain_evaluate: small enough for the progress bar to move.
_EVALUATE_CHUNK = 8


def explain_evaluate(
    pm: PtmPluginManager,
    run_dir: str | Path,
    *,
    data: str,
    methods: Sequence[str] = ("ig", "saliency", "input-x-gradient", "occlusion"),
    limit: int | None = 100,
    sanity: int = 16,
    seed: int = 0,
    device: str = "auto",
    text_column: str | None = None,
    label_column: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Faithfulness, plausibility and the randomisation check of several explainers on ``data``.

    Each method explains the first ``limit`` texts of the data's evaluation split (the
    predicted class is the target), with its explainer made from ``options[method]``
    (``{"ig": {"n_steps": 16}}``; a method not named takes its defaults). Rows: ERASER comprehensiveness (higher is better) and
    sufficiency (lower is better) with a random-attribution row as the floor, agreement with
    human rationales where the data has them, seconds per sentence, and, on the first
    ``sanity`` texts, the rank correlation with the attributions of a fully re-initialised
    model (near 0 is what a method that depends on the model shows). ``progress`` shows a bar
    counting the sentences explained (this takes minutes for several methods).
    """
    from tqdm.auto import tqdm

    from toolkit import faithfulness as ff
    from toolkit.progress import bar_options

    if not methods:
        raise ConfigError("give at least one method to evaluate (e.g. --methods ig,saliency)")
    for method in methods:
        pm.registry.get(ExplainerSpec, method)
    options = {method: dict(given) for method, given in (options or {}).items()}
    stray = sorted(set(options) - set(methods))
    if stray:
        raise ConfigError(
            f"options are given for {', '.join(stray)}, which is not among the methods evaluated "
            f"({', '.join(methods)}); add it to --methods or drop its options"
        )
    folder, fitter = open_run(pm, run_dir, device=device)
    dataset = load_data(pm, data, text_column=text_column, label_column=label_column)
    check_task(run_task(pm, folder), dataset, data)
    examples = dataset.evaluation_split()
    if limit is not None:
        if limit <= 0:
            raise ConfigError(f"--limit must be a positive number of sentences, got {limit}")
        examples = examples[:limit]
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples] if examples and examples[0].text_pair is not None else None
    rationales = [e.rationale for e in examples]
    has_rationales = any(rationales)
    scorer = ff.model_scorer(fitter.model, fitter.tokenizer)
    run = RunContext("explain", config={"run": str(folder.path), "data": data, "methods": list(methods)},
                     device=fitter.device)
    run.model, run.tokenizer = fitter.model, fitter.tokenizer
    hooks = pm.hooks

    def row(name: str, explanations: list[Explanation], seconds: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": name,
            "options": options.get(name, {}),
            "comprehensiveness": ff.comprehensiveness(scorer, explanations),
            "sufficiency": ff.sufficiency(scorer, explanations),
            "seconds_per_sentence": None if seconds is None else seconds / len(explanations),
        }
        if has_rationales:
            out.update({f"plausibility_{k}": v for k, v in ff.plausibility(explanations, rationales).items()})
        return out

    # Made before anything shows: a bad option is one line, not a line after a progress bar.
    explainers = {m: make_explainer(pm, fitter.model, fitter.tokenizer, m, options.get(m, {})) for m in methods}
    rows = []
    sample = texts[: min(sanity, len(texts))] if sanity else []
    # The randomisation check adds its sentences to the total as it goes (one pass per stage).
    bar = tqdm(total=len(methods) * len(texts), unit="sentence", desc="explain evaluate", **bar_options(progress))
    try:
        hooks.before_run(run)
        first: list[Explanation] = []
        for method in methods:
            bar.set_description(f"{method}: faithfulness")
            explainer = explainers[method]
            started = time.perf_counter()
            explanations = []
            for i in range(0, len(texts), _EVALUATE_CHUNK):  # in chunks, so the bar moves
                chunk = texts[i : i + _EVALUATE_CHUNK]
                explanations += _explain(pm, explainer, run, chunk, method, None,
                                         pairs[i : i + _EVALUATE_CHUNK] if pairs else None)
                bar.update(len(chunk))
            rows.append(row(method, explanations, time.perf_counter() - started))
            first = first or explanations
            if sample:
                bar.set_description(f"{method}: randomisation check")
                sample_pairs = {"text_pairs": pairs[: len(sample)]} if pairs else {}

                def explain_with(model: Any, explainer_id: str = method) -> list[Explanation]:
                    other = make_explainer(pm, model, fitter.tokenizer, explainer_id, options.get(explainer_id, {}))
                    bar.total += len(sample)
                    explained = list(other.explain(sample, **sample_pairs))
                    bar.update(len(sample))
                    return explained

                stages = ff.cascading_randomization(fitter.model, explain_with, seed=seed)
                rows[-1]["randomization"] = stages
                rows[-1]["randomized_spearman"] = stages[-1]["spearman"]
        rows.append(row("random", ff.random_explanations(first, seed=seed), None))
    except BaseException as error:
        hooks.on_run_error(run, error)
        raise
    finally:
        bar.close()
    result = {"run": str(folder.path), "data": data, "n": len(texts), "rows": rows}
    hooks.after_run(run, result)
    return result
