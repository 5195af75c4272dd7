"""What a run is made of, by reference: data (``reviews``, ``data.tsv``, ``hf:name``), a model
(``minilm``, a folder, a Hugging Face id) and the task, with the check that data fits a task.

Training (:mod:`toolkit.pipeline`), evaluation and prediction (:mod:`toolkit.inference`) and
explanation (:mod:`toolkit.explaining`) all resolve their references here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.data import TextDataset
from toolkit.errors import ConfigError, PtmError, UnknownIdError
from toolkit.manager import PtmPluginManager
from toolkit.registry import DatasetSpec, ModelSpec, TaskSpec, closest


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
            f"{error} Data can also be a .tsv, .csv, .jsonl or .conll file, or hf:NAME"
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


def load_model(pm: PtmPluginManager, ref: str, *, label_names: Sequence[str], head: str = "sequence") -> Any:
    """A model by registered id (``minilm``), folder, or Hugging Face id, with a fresh head:
    ``head`` is the task's (:attr:`toolkit.registry.TaskSpec.head`); a model factory is given
    ``head=`` only when it is not ``sequence``, so a plugin's model that predates tasks still
    loads for classification."""
    registry = pm.registry
    spec, claimed = registry.resolve(ModelSpec, ref)
    options: dict[str, Any] = {"num_labels": len(label_names), "labels": list(label_names)}
    if head != "sequence":
        options["head"] = head
    try:
        return spec.load()(**({"ref": ref} if claimed else {}), **options)
    except PtmError as error:
        near = closest(ref, registry.ids(ModelSpec)) if claimed else []
        if near:
            raise ConfigError(f"{error} Did you mean '{near[0]}'?") from None
        raise


DEFAULT_DATA = "reviews"


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
    per_word = spec.labels == "per-word"
    bad_shape = next((e for rows in dataset.splits.values() for e in rows if bool(e.words) != per_word), None)
    if bad_shape is not None:
        have = "no tags per word" if per_word else "tags per word"
        raise ConfigError(
            f"data '{data}' has an example with {have} ('{bad_shape.text[:30]}'), but task '{spec.id}' "
            f"labels {'each word' if per_word else 'each text'}"
        )
    pairs = len(spec.inputs) == 2
    bad = next((e for rows in dataset.splits.values() for e in rows if (e.text_pair is None) == pairs), None)
    if bad is not None:
        have = "one text" if pairs else "two texts"
        raise ConfigError(
            f"data '{data}' has an example with {have} ('{bad.text[:30]}'), but task "
            f"'{spec.id}' takes {len(spec.inputs)} ({', '.join(spec.inputs)})"
        )
