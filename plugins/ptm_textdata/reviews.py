"""``reviews``: the embedded English sentiment dataset written for this project.

680 sentences from four domains (films, apps, restaurants, products), balanced by label in each
domain and split, with fixed splits: train (400), dev (80, for choosing settings) and test (200,
reported once). About two thirds of the sentences are hard cases
(negation, contrast, intensifiers, mixed feelings, sarcasm, comparison), tagged as such, and every
test sentence records its rationale: the words that carry its sentiment.
"""

from __future__ import annotations

import json
from importlib import resources

from toolkit.data import Example, TextDataset

LABELS = ("negative", "positive")
FILES = ("reviews_films_apps.jsonl", "reviews_restaurants_products.jsonl")


def rows() -> list[dict]:
    """Every row of the dataset as stored: text, label, split, domain, tags, rationale."""
    out = []
    for name in FILES:
        text = resources.files("ptm_textdata").joinpath("data", name).read_text(encoding="utf-8")
        out += [json.loads(line) for line in text.splitlines() if line.strip()]
    return out


def load_reviews() -> TextDataset:
    """The dataset as train, dev and test splits of :class:`~toolkit.data.Example`.

    Lessons choose settings (learning rates, baselines, epochs) on ``dev`` and report ``test``
    once; ``ptm train`` trains on ``train`` and scores ``test``.
    """
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    tags: dict[str, list[list[str]]] = {"train": [], "dev": [], "test": []}
    for row in rows():
        splits[row["split"]].append(
            Example(
                text=row["text"],
                label=LABELS.index(row["label"]),
                rationale=tuple(row["rationale"]),
            )
        )
        tags[row["split"]].append(row["tags"])
    return TextDataset(
        name="reviews",
        label_names=LABELS,
        splits=splits,
        source="written for ptm-toolkit (films, apps, restaurants, products)",
        extra={"tags": tags},
    )
