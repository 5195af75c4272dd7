"""The pair data: the embedded ``paraphrases`` and files of your own (``pairs:FILE``)."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

from toolkit.data import Example, TextDataset
from toolkit.errors import ConfigError

LABELS = ("different", "paraphrase")
FIRST_COLUMNS = ("text", "sentence1", "premise", "question1", "text_a")
SECOND_COLUMNS = ("text_pair", "sentence2", "hypothesis", "question2", "text_b")
LABEL_COLUMNS = ("label", "labels", "class")


def rows() -> list[dict]:
    """Every stored row: text, text_pair, label, split, topic, kind."""
    text = resources.files("ptm_pairs").joinpath("data", "paraphrases.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_paraphrases() -> TextDataset:
    """The ``paraphrases`` pairs as fixed train and test splits."""
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    kinds: dict[str, list[str]] = {"train": [], "test": []}
    for row in rows():
        splits[row["split"]].append(
            Example(text=row["text"], text_pair=row["text_pair"], label=LABELS.index(row["label"]))
        )
        kinds[row["split"]].append(row["kind"])
    return TextDataset(
        name="paraphrases",
        label_names=LABELS,
        splits=splits,
        task="pairs",
        source="written for ptm-pairs",
        extra={"kinds": kinds},
    )


def load_pair_file(*, ref: str, text_column: str | None = None, label_column: str | None = None) -> TextDataset:
    """``pairs:FILE``: a .tsv, .csv or .jsonl file with two text columns and a label column.

    The columns are found by name (``sentence1``/``sentence2``, ``premise``/``hypothesis``,
    ``question1``/``question2``, ``text``/``text_pair``); ``--text-column`` names the first.
    Labels are names (sorted into ids) or integer ids.
    """
    path = Path(ref.removeprefix("pairs:")).expanduser()
    records = _read(path)
    columns = list(records[0])
    first = _column(columns, (text_column,) if text_column else FIRST_COLUMNS, "first text", path)
    second = _column(columns, SECOND_COLUMNS, "second text", path)
    label = _column(columns, (label_column,) if label_column else LABEL_COLUMNS, "label", path)
    values = [str(r.get(label, "")).strip() for r in records]
    for number, (record, value) in enumerate(zip(records, values), start=1):
        if not value or not str(record.get(first) or "").strip() or not str(record.get(second) or "").strip():
            raise ConfigError(f"{path} record {number} lacks a text, second text or label; fix or delete it")
    if all(v.isdigit() for v in values):
        names = tuple(str(i) for i in range(max(int(v) for v in values) + 1))
        ids = [int(v) for v in values]
    else:
        names = tuple(sorted(set(values)))
        ids = [names.index(v) for v in values]
    examples = [Example(text=str(r[first]), text_pair=str(r[second]), label=i) for r, i in zip(records, ids)]
    return TextDataset(name=path.name, label_names=names, splits={"all": examples}, task="pairs",
                       source=str(path.resolve()))


def _read(path: Path) -> list[dict]:
    if path.suffix.lower() not in (".tsv", ".csv", ".jsonl"):
        raise ConfigError(f"{path} is not a .tsv, .csv or .jsonl file; convert it to one of those")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"pair file {path} does not exist; check the path after 'pairs:'") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; re-save it as UTF-8") from None
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ConfigError(f"{path} line {number} is not valid JSON ({error.msg}); fix it") from None
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        records = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    if not records:
        raise ConfigError(f"{path} has no rows of pairs")
    return records


def _column(columns: list[str], candidates: tuple[str, ...], role: str, path: Path) -> str:
    lower = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    raise ConfigError(
        f"{path} has no {role} column (looked for {', '.join(candidates)}); its columns are {', '.join(columns)}"
    )
