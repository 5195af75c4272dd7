"""A trained run at work: open its folder, score it on labelled data (``evaluate``, firing the
lifecycle hooks) and label new texts with it (``predict``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.lifecycle import run_scope
from toolkit.loading import DEFAULT_TRAINER, check_task, load_data
from toolkit.manager import PtmPluginManager
from toolkit.protocols import Trainer, WordTagger, conform
from toolkit.registry import TaskSpec, TrainerSpec
from toolkit.runs import RunFolder


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


def open_run(pm: PtmPluginManager, run_dir: str | Path, *, device: str = "auto") -> tuple[RunFolder, Any]:
    """A finished run folder and its trainer, ready to evaluate or predict."""
    folder = RunFolder.open(run_dir)
    config = folder.read_json("config.json")
    spec = pm.registry.get(TrainerSpec, config.get("trainer") or DEFAULT_TRAINER)
    task = run_task(pm, folder)
    fitter = spec.load().from_saved(folder.model_dir, device=device)
    return folder, conform(fitter, WordTagger if task.labels == "per-word" else Trainer,
                           f"trainer '{spec.id}' of plugin '{spec.plugin}'")


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
    task = run_task(pm, folder)
    check_task(task, dataset, data)
    if task.labels == "per-word":
        dataset = dataset.relabelled(fitter.label_names)
    if list(dataset.label_names) != list(fitter.label_names):
        raise ConfigError(
            f"data '{data}' has labels {list(dataset.label_names)} but the model in {folder.path} "
            f"was trained on {list(fitter.label_names)}"
        )
    split = "test" if "test" in dataset.splits else "all"
    examples = dataset.evaluation_split()
    with run_scope("evaluate", {"run": str(folder.path), "data": data}, hooks=pm.hooks,
                   device=fitter.device) as scope:
        scope.result = {**fitter.evaluate(examples, run=scope.run, split=split), "task": task.id}
    return scope.result


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
    task = run_task(pm, folder)
    check_inputs(task, texts, pairs)
    if task.labels == "per-word":
        # {"text", "words": [{"word", "tag", "probability"}], "entities": [...]} per text
        return list(fitter.predict_words(texts))
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
