"""Built-in plugin: text data (the embedded ``reviews`` and ``entities``, local files, Hugging
Face datasets), the text-classification task and the tagging (named-entity) task."""

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
    register(
        TaskSpec(
            id="tagging",
            summary="words in, one BIO tag per word out (named entities); scored by entity-level F1 (seqeval)",
            inputs=("text",),
            labels="per-word",
            head="token",
            trainer="tagger",
            metrics=("f1", "precision", "recall", "accuracy"),
            metric_labels={"f1": "entity-F1", "precision": "entity-precision", "recall": "entity-recall",
                           "accuracy": "token-accuracy"},
            data="entities",
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
            id="entities",
            task="tagging",
            summary="700 English sentences tagged with named entities (PER, LOC, ORG, MISC; BIO tags)",
            factory="ptm_textdata.tagging:load_entities",
            source="written for ptm-toolkit; fixed train/dev/test splits; test names unseen in train",
        )
    )
    register(
        DatasetSpec(
            id="file",
            summary="a local .tsv, .csv or .jsonl file with text and label columns, or a .conll or "
            ".jsonl file of words and BIO tags (give its path)",
            factory="ptm_textdata.files:load_file",
            claims=("*.tsv", "*.csv", "*.jsonl", "*.conll"),
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
