"""The data every step exchanges: labelled texts in named splits.

Kept deliberately plain (lists of frozen records) so that a learner can print it, and so that
any plugin, whatever library it reads with, can produce it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from toolkit.errors import ConfigError

_ROW_END = re.compile(r"\r?\n")


def split_rows(text: str) -> list[str]:
    """The rows of a text file: only ``\\n`` and ``\\r\\n`` end a row (``\\r`` alone in a file with
    no ``\\n`` at all, as classic Mac OS wrote). A final empty row after the last ending is dropped.

    Not ``str.splitlines()``: it also splits at ``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``,
    ``\\x85``, U+2028 and U+2029, and so cuts in two a text that holds one of them.
    """
    rows = _ROW_END.split(text) if "\n" in text else text.split("\r")
    if rows and rows[-1] == "":
        rows.pop()
    return rows


@dataclass(frozen=True)
class Example:
    """One labelled text: one label for the text (or text pair), or one tag per word.

    Attributes:
        text: the input text (for a tagged sentence, its words joined by single spaces).
        label: the label's index into the dataset's ``label_names``; -1 when the labels are
            per word (``tags``).
        text_pair: a second text, for sentence-pair tasks.
        rationale: the words that carry the label, where a person recorded them.
        words: the words of a tagged sentence (token classification), in order.
        tags: one index into ``label_names`` per word (``O``, ``B-PER``, ``I-PER``, ...).
    """

    text: str
    label: int = -1
    text_pair: str | None = None
    rationale: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    tags: tuple[int, ...] = ()

    @classmethod
    def tagged(cls, words: Sequence[str], tags: Sequence[int]) -> Example:
        """A sentence with one tag per word; its text is the words joined by spaces."""
        if len(words) != len(tags):
            raise ConfigError(f"{len(words)} words but {len(tags)} tags; give one tag per word")
        return cls(text=" ".join(words), words=tuple(words), tags=tuple(tags))


@dataclass
class TextDataset:
    """Named splits of labelled examples sharing one label set.

    Attributes:
        name: what the data is called (an id, a file name, ``hf:...``).
        label_names: the label of each index, e.g. ``("negative", "positive")``.
        splits: examples by split name (``"train"``, ``"test"``, or ``"all"`` for one file).
        task: the id of the task the labels are for.
    """

    name: str
    label_names: tuple[str, ...]
    splits: dict[str, list[Example]]
    task: str = "text-classification"
    source: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def split(self, name: str) -> list[Example]:
        """One split by name; ``"all"`` joins every split."""
        if name == "all":
            return [example for rows in self.splits.values() for example in rows]
        if name not in self.splits:
            raise ConfigError(
                f"data '{self.name}' has no split '{name}'; it has {', '.join(self.splits)}"
            )
        return self.splits[name]

    def train_test(self, test_fraction: float = 0.1, seed: int = 0) -> tuple[list[Example], list[Example]]:
        """The train and test examples: the dataset's own splits when it has them, otherwise a
        fixed, seeded hold-out of ``test_fraction`` of its examples, stratified by label."""
        if "train" in self.splits and "test" in self.splits:
            return self.splits["train"], self.splits["test"]
        rows = self.split("train") if "train" in self.splits else self.split("all")
        by_label: dict[int, list[Example]] = {}
        for example in rows:
            by_label.setdefault(example.label, []).append(example)
        rng = random.Random(seed)
        train: list[Example] = []
        test: list[Example] = []
        for label in sorted(by_label):
            group = by_label[label][:]
            rng.shuffle(group)
            cut = max(1, round(len(group) * test_fraction)) if len(group) > 1 else 0
            test += group[:cut]
            train += group[cut:]
        rng.shuffle(train)
        return train, test

    def label_counts(self, split: str = "all") -> dict[str, int]:
        counts = Counter(example.label for example in self.split(split))
        return {self.label_names[i]: counts.get(i, 0) for i in range(self.num_labels)}

    def tag_counts(self, split: str = "all") -> dict[str, int]:
        """How many words carry each tag (token classification data)."""
        counts = Counter(tag for example in self.split(split) for tag in example.tags)
        return {self.label_names[i]: counts.get(i, 0) for i in range(self.num_labels)}

    def relabelled(self, names: Sequence[str]) -> TextDataset:
        """The same data with tags re-indexed into ``names`` (another file's tag set, e.g. a
        trained run's); a tag not in ``names`` is refused, naming it."""
        names = list(names)
        index = {name: i for i, name in enumerate(names)}
        missing = sorted({self.label_names[t] for rows in self.splits.values() for e in rows for t in e.tags} - set(index))
        if missing:
            raise ConfigError(
                f"data '{self.name}' has tags {', '.join(missing)} that the model does not know "
                f"(it knows {', '.join(names)})"
            )
        splits = {
            split: [replace(e, tags=tuple(index[self.label_names[t]] for t in e.tags)) for e in rows]
            for split, rows in self.splits.items()
        }
        return replace(self, label_names=tuple(names), splits=splits)

    def evaluation_split(self) -> list[Example]:
        """What to score a model on: the ``test`` split when there is one, else every example."""
        return self.split("test" if "test" in self.splits else "all")
