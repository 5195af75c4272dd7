"""Built-in plugin: text data (the embedded ``reviews``, local files, Hugging Face datasets) and
the text-classification task."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import DatasetSpec, TaskSpec


@hookimpl
def ptm_register_tasks(register):
    register(
        TaskSpec(
            id="text-classification",
            summary="one text in, one label out; scored by accuracy and macro-F1",
            inputs=("text",),
            metrics=("accuracy", "f1"),
            data="reviews",
        )
    )


@hookimpl
def ptm_register_datasets(register):
    register(
        DatasetSpec(
            id="reviews",
            summary="680 English review sentences (films, apps, restaurants, products), 2 labels",
            factory="ptm_textdata.reviews:load_reviews",
            source="written for ptm-toolkit; fixed train (400) / dev (80) / test (200) splits; rationales for the test split",
        )
    )
    register(
        DatasetSpec(
            id="file",
            summary="a local .tsv, .csv or .jsonl file with text and label columns (give its path)",
            factory="ptm_textdata.files:load_file",
            claims=("*.tsv", "*.csv", "*.jsonl"),
        )
    )
    register(
        DatasetSpec(
            id="hf",
            summary="a Hugging Face dataset, hf:NAME[/CONFIG] (needs the 'hub' extra)",
            factory="ptm_textdata.hub:load_hub",
            claims=("hf:*",),
        )
    )
