"""ptm-pairs: a third-party plugin that adds sentence-pair classification to ptm-toolkit.

It registers, through the public hooks only:

- the task ``pairs``: two texts in (``text``, ``text_pair``), one label out;
- the dataset ``paraphrases``: 320 pairs written for this plugin, labelled ``paraphrase`` or
  ``different`` (half of the ``different`` pairs share most of their words);
- the dataset ``pairs-file``, which claims references ``pairs:PATH`` to read your own
  ``.tsv``/``.csv``/``.jsonl`` file of pairs.

Everything else (training, evaluation, prediction, explanation) is the toolkit's: a task with
two inputs makes the trainer encode both texts and ``ptm predict``/``ptm explain`` take
``--pair``.
"""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import DatasetSpec, TaskSpec

TASK = "pairs"


@hookimpl
def ptm_register_tasks(register):
    register(
        TaskSpec(
            id=TASK,
            summary="two texts in (a sentence pair), one label out; scored by accuracy and macro-F1",
            inputs=("text", "text_pair"),
            metrics=("accuracy", "f1"),
            data="paraphrases",
        )
    )


@hookimpl
def ptm_register_datasets(register):
    register(
        DatasetSpec(
            id="paraphrases",
            summary="320 English sentence pairs (films, restaurants, travel, software): paraphrase or different",
            factory="ptm_pairs.data:load_paraphrases",
            task=TASK,
            source="written for ptm-pairs; fixed train/test splits (240/80), balanced labels",
        )
    )
    register(
        DatasetSpec(
            id="pairs-file",
            summary="your own sentence pairs: pairs:FILE.tsv|.csv|.jsonl with two text columns and a label",
            factory="ptm_pairs.data:load_pair_file",
            task=TASK,
            claims=("pairs:*",),
        )
    )
