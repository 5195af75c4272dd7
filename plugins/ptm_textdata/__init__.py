"""Built-in plugin: text data and the text-classification task."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import TaskSpec


@hookimpl
def ptm_register_tasks(register):
    register(
        TaskSpec(
            id="text-classification",
            summary="one text in, one label out; scored by accuracy and macro-F1",
            inputs=("text",),
            metrics=("accuracy", "f1"),
        )
    )
