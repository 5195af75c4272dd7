"""Labelled text from local TSV, CSV and JSONL files.

The text and label columns are found by name (``sentence``/``text``/``review``/..., and
``label``/``sentiment``/...) or given. String labels become ids, sorted, and their names are
kept; integer labels stay as they are. GLUE's SST-2 ``train.tsv`` and ``dev.tsv`` read as is.

Only ``\\n`` and ``\\r\\n`` end a row, so a text keeps a form feed or U+2028. What would read as
something other than the file means is refused in one line naming the rows: a repeated column
(or JSON key), a row with more or fewer fields than the header, labels that mix ids and names,
and decimal labels.

A ``.conll`` file, and a ``.jsonl`` file whose first record has ``tokens``, hold tagged words
instead: :func:`load_file` hands them to :mod:`ptm_textdata.tagging`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from toolkit.data import Example, TextDataset, split_rows
from toolkit.errors import ConfigError

TEXT_COLUMNS = ("sentence", "text", "review", "content", "document", "sentence1")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target")
SUFFIXES = (".tsv", ".csv", ".jsonl", ".conll")


class _RepeatedKey(Exception):
    """A JSON object gave one key twice (``json`` would silently keep the last)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen.add(key)
    return dict(pairs)


def _show(value: str, limit: int = 24) -> str:
    """A value as a message may quote it: on one line, escaped where not printable, short."""
    shown = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _header(path: Path, columns: list[str]) -> list[str]:
    for i, name in enumerate(columns):
        if name and name in columns[:i]:
            raise ConfigError(
                f"{path} has two columns named '{_show(name)}' (columns {columns.index(name) + 1} and {i + 1}); "
                "rename or delete one, so that each column has its own name"
            )
    return columns


def _fields(
    path: Path, header: list[str], number: int, fields: list[str], last: bool, fixes: tuple[str, str]
) -> dict:
    """One row's fields by column name, refused when their count differs from the header's
    (``fixes``: what to do about too many fields, and about too few)."""
    while len(fields) > len(header) and fields[-1] == "":
        fields = fields[:-1]  # a trailing separator adds an empty field, not a value
    # A short last row with no line ending is a truncated file: load_file names its missing value.
    if len(fields) != len(header) and not (last and len(fields) < len(header)):
        count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
        raise ConfigError(
            f"{path} row {number} has {count} but the header has {len(header)} "
            f"({', '.join(_show(c) for c in header)}); {fixes[len(fields) < len(header)]}"
        )
    return dict(zip(header, fields))


def _jsonl(path: Path, text: str) -> list[tuple[int, dict]]:
    records = []
    for number, line in enumerate(split_rows(text), start=1):
        if not line.strip():
            continue
        try:
            # strict=False keeps a raw control character (a form feed, a lone \r) inside its text.
            record = json.loads(line, strict=False, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{path} line {number} is not valid JSON ({error.msg}); fix or delete it"
            ) from None
        except _RepeatedKey as error:
            raise ConfigError(
                f"{path} line {number} gives the key '{_show(str(error))}' twice; keep one "
                "(JSON readers silently keep the last)"
            ) from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path} line {number} is not a JSON object; each line needs one")
        records.append((number, record))
    return records


def _tsv(path: Path, text: str) -> list[tuple[int, dict]]:
    # Split by hand: GLUE's TSV has no quoting, so a field is what lies between tabs, and the
    # csv module would end a row at a lone \r inside a text.
    rows = [(n, line) for n, line in enumerate(split_rows(text), start=1) if line]
    header = _header(path, rows[0][1].split("\t"))
    fixes = ("a TSV text cannot hold a tab or a line break, even in quotes: save the data as CSV or JSONL",) * 2
    ends = text.endswith(("\n", "\r"))
    return [
        (number, _fields(path, header, number, line.split("\t"), i == len(rows) - 1 and not ends, fixes))
        for i, (number, line) in enumerate(rows[1:], start=1)
    ]


def _csv(path: Path, text: str) -> list[tuple[int, dict]]:
    # A field may be as long as the file; the default limit (131,072 characters) is not.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    lone_cr = ""
    if "\n" in text and re.search("\r(?!\n)", text):
        # The csv module ends a row at any \r: hide each lone one in a character the text lacks.
        lone_cr = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
        text = re.sub("\r(?!\n)", lone_cr, text)
    reader = csv.reader(io.StringIO(text, newline=""))
    fixes = ('put a text that holds a comma in double quotes ("good, really")',
             "give the row a value for each column, separated by commas")
    ends = text.endswith(("\n", "\r"))
    rows, header, previous = [], None, 0
    try:
        for fields in reader:
            number, previous = previous + 1, reader.line_num
            if not fields:
                continue
            if lone_cr:
                fields = [field.replace(lone_cr, "\r") for field in fields]
            if header is None:
                header = _header(path, fields)
            else:
                rows.append((number, fields))
    except csv.Error as error:
        raise ConfigError(f"{path} line {reader.line_num} is not valid CSV ({error}); fix or delete it") from None
    return [
        (number, _fields(path, header, number, fields, i == len(rows) - 1 and not ends, fixes))
        for i, (number, fields) in enumerate(rows)
    ]


def read_text(path: Path, kinds: str = ".tsv, .csv or .jsonl") -> str:
    """A data file's text, refused in one line when it is missing, a folder, binary, holds a NUL
    byte or is not UTF-8 (``kinds``: the files a message asks for instead)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"data file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; give a {kinds} file") from None
    if b"\x00" in raw[:4096]:
        raise ConfigError(f"{path} looks binary; give a UTF-8 {kinds} text file")
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise ConfigError(
            f"{path} holds a NUL byte on line {line}, so it is damaged or not text; save it again as UTF-8 text"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {error.start}); re-save it as UTF-8"
        ) from None


def _records(path: Path) -> list[tuple[int, dict]]:
    """The file's records, each with its row number (the header is row 1; JSONL counts lines)."""
    text = read_text(path)
    if not text.strip():
        raise ConfigError(f"{path} is empty; it needs a header line and labelled rows")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl(path, text)
    return _tsv(path, text) if suffix == ".tsv" else _csv(path, text)


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise ConfigError(
                f"{path} has no column '{_show(wanted)}'; its columns are {', '.join(map(_show, columns))}"
            )
        return wanted
    lower = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    raise ConfigError(
        f"{path} has no {role} column (looked for {', '.join(candidates)}); its columns are "
        f"{', '.join(map(_show, columns)) or 'none'}: name one with --{role}-column"
    )


_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+)")


def _label_kinds(path: Path, column: str, numbers: list[int], labels: list[str]) -> set[str]:
    """Whether the labels are class ids ("number") or names ("word"), refusing what is neither.

    Without this, a decimal label becomes a class of its own, and a file that mixes ``1`` and
    ``pos`` gets a class for each spelling: both silently."""
    found: dict[str, list[tuple[int, str]]] = {}
    for number, label in zip(numbers, labels):
        kind = "number" if _WHOLE.fullmatch(label) else "decimal" if _DECIMAL.fullmatch(label) else "word"
        found.setdefault(kind, []).append((number, label))

    def few(kind: str, one: str, many: str) -> str:
        """'rows 2, 5 are numbers (1, 0)': the first rows of a kind and its first values."""
        rows = [n for n, _ in found[kind]]
        values = list(dict.fromkeys(label for _, label in found[kind]))
        shown_rows = ", ".join(map(str, rows[:3])) + (", ..." if len(rows) > 3 else "")
        shown_values = ", ".join(map(_show, values[:3])) + (", ..." if len(values) > 3 else "")
        noun = f"row {shown_rows} is {one}" if len(rows) == 1 else f"rows {shown_rows} are {many}"
        return f"{noun} ({shown_values})"

    if "decimal" in found:
        raise ConfigError(
            f"{path} label column '{_show(column)}' holds decimals: {few('decimal', 'a decimal', 'decimals')}; "
            "labels must be whole-number ids 0..K-1 or names, one per class"
        )
    if len(found) > 1:
        raise ConfigError(
            f"{path} label column '{_show(column)}' mixes numbers and words: "
            f"{few('number', 'a number', 'numbers')} but {few('word', 'a word', 'words')}; "
            "give every row an id 0..K-1 or every row a name"
        )
    return set(found)


def load_file(
    *, ref: str | Path, text_column: str | None = None, label_column: str | None = None
) -> TextDataset:
    """Read one labelled file into a dataset with a single split, ``"all"``.

    A ``.conll`` file, or a ``.jsonl`` file whose first record has ``tokens``, is tagged words:
    it reads as :func:`ptm_textdata.tagging.load_tagging_file` reads it."""
    from ptm_textdata import tagging  # imported here because tagging imports this module

    path = Path(ref).expanduser()
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{path} is not a .tsv, .csv, .jsonl or .conll file; convert it to one of those")
    if suffix == ".conll":
        return tagging.load_tagging_file(ref=path, text_column=text_column, label_column=label_column)
    records = _records(path)
    if not records:
        raise ConfigError(f"{path} has a header but no rows")
    if suffix == ".jsonl" and "tokens" in records[0][1]:
        tagging.refuse_columns(path, text_column, label_column)
        return tagging.from_jsonl_records(path, records)
    columns = list(records[0][1].keys())
    text_key = pick_column(columns, text_column, TEXT_COLUMNS, "text", path)
    label_key = pick_column(columns, label_column, LABEL_COLUMNS, "label", path)
    texts, labels = [], []
    for number, record in records:
        text, label = record.get(text_key), record.get(label_key)
        if text is None or label is None or str(label).strip() == "":
            raise ConfigError(
                f"{path} row {number} lacks a {text_key if text is None else label_key} value "
                "(a truncated file?); fix or delete that row"
            )
        texts.append(str(text))
        labels.append(str(label).strip())
    kinds = _label_kinds(path, label_key, [number for number, _ in records], labels)
    if kinds == {"number"}:
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
