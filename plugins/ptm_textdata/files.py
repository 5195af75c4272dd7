"""Labelled text from local TSV, CSV and JSONL files.

The text and label columns are found by name (``sentence``/``text``/``review``/..., and
``label``/``sentiment``/...) or given. String labels become ids, sorted, and their names are
kept; integer labels stay as they are. GLUE's SST-2 ``train.tsv`` and ``dev.tsv`` read as is.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from toolkit.data import Example, TextDataset
from toolkit.errors import ConfigError

TEXT_COLUMNS = ("sentence", "text", "review", "content", "document", "sentence1")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target")
SUFFIXES = (".tsv", ".csv", ".jsonl")


def _records(path: Path) -> list[dict]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"data file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; give a .tsv, .csv or .jsonl file") from None
    if b"\x00" in raw[:4096]:
        raise ConfigError(f"{path} looks binary; give a UTF-8 .tsv, .csv or .jsonl text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {error.start}); re-save it as UTF-8"
        ) from None
    if not text.strip():
        raise ConfigError(f"{path} is empty; it needs a header line and labelled rows")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError(
                    f"{path} line {number} is not valid JSON ({error.msg}); fix or delete it"
                ) from None
            if not isinstance(record, dict):
                raise ConfigError(f"{path} line {number} is not a JSON object; each line needs one")
            records.append(record)
        return records
    delimiter = "\t" if suffix == ".tsv" else ","
    quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter, quoting=quoting))


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise ConfigError(
                f"{path} has no column '{wanted}'; its columns are {', '.join(columns)}"
            )
        return wanted
    lower = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    raise ConfigError(
        f"{path} has no {role} column (looked for {', '.join(candidates)}); its columns are "
        f"{', '.join(columns) or 'none'}: name one with --{role}-column"
    )


def load_file(
    *, ref: str | Path, text_column: str | None = None, label_column: str | None = None
) -> TextDataset:
    """Read one labelled file into a dataset with a single split, ``"all"``."""
    path = Path(ref).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"{path} is not a .tsv, .csv or .jsonl file; convert it to one of those")
    records = _records(path)
    if not records:
        raise ConfigError(f"{path} has a header but no rows")
    columns = list(records[0].keys())
    text_key = pick_column(columns, text_column, TEXT_COLUMNS, "text", path)
    label_key = pick_column(columns, label_column, LABEL_COLUMNS, "label", path)
    texts, labels = [], []
    for number, record in enumerate(records, start=2 if path.suffix != ".jsonl" else 1):
        text, label = record.get(text_key), record.get(label_key)
        if text is None or label is None or str(label).strip() == "":
            raise ConfigError(
                f"{path} row {number} lacks a {text_key if text is None else label_key} value "
                "(a truncated file?); fix or delete that row"
            )
        texts.append(str(text))
        labels.append(str(label).strip())
    if all(label.lstrip("-").isdigit() for label in labels):
        ids = [int(label) for label in labels]
        if min(ids) < 0:
            raise ConfigError(f"{path} has negative label ids; use 0..K-1 or label names")
        names = tuple(str(i) for i in range(max(ids) + 1))
    else:
        names = tuple(sorted(set(labels)))
        ids = [names.index(label) for label in labels]
    return TextDataset(
        name=path.name,
        label_names=names,
        splits={"all": [Example(text=t, label=i) for t, i in zip(texts, ids)]},
        source=str(path.resolve()),
        extra={"text_column": text_key, "label_column": label_key},
    )
