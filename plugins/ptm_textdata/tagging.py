"""Tagged words for token classification: CoNLL and JSONL files, and the embedded ``entities``.

A sentence is its words with one tag each, in the BIO scheme as IOB2 writes it: ``O`` outside
entities, ``B-X`` on the first word of an entity of type X, ``I-X`` on each word after it.

- CoNLL (``.conll``): one ``word TAG`` per line, a blank line between sentences, ``-DOCSTART-``
  lines skipped; with more fields (CoNLL-2003's ``word POS CHUNK TAG``) the word is the first
  field and the tag the last.
- JSONL (``.jsonl``): one ``{"tokens": [...], "tags": [...]}`` per line, the Hugging Face
  datasets convention (``ner_tags`` in place of ``tags`` too), with the tags written as names.

Other schemes (IO, BIOES, BILOU) and IOB1 (where an entity may start with ``I-``) are refused,
not guessed at: the message names the file, the line and the tag. The tag names are ``O`` and
then ``B-X``, ``I-X`` for each type X in sorted order, so files with the same types agree on ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from ptm_textdata.files import _jsonl, _show, read_text
from toolkit.data import Example, TextDataset, split_rows
from toolkit.errors import ConfigError

SPLITS = ("train", "dev", "test")
KINDS = ".conll or .jsonl"
ENTITIES_SOURCE = "written for ptm-toolkit; fixed train/dev/test splits; test names unseen in train"

_BIO = re.compile(r"O|[BI]-\S+")
_CONLL_FIX = "write one 'word TAG' per line (a space or a tab between them) and a blank line between sentences"
_JSONL_FIX = 'write one {"tokens": [...], "tags": [...]} object per line'

Sentence = tuple[tuple[str, ...], tuple[str, ...]]
"""A sentence's words and the name of each word's tag."""


def label_names(tags: Iterable[str]) -> tuple[str, ...]:
    """``O``, then ``B-X`` and ``I-X`` for each entity type X in sorted order (both, even when the
    data has only ``B-X``: a model may still predict ``I-X``)."""
    types = sorted({tag[2:] for tag in tags if tag != "O"})
    return ("O", *(f"{prefix}-{kind}" for kind in types for prefix in "BI"))


def _scheme_fix(tag: str) -> str:
    """How to write a tag of another scheme in BIO."""
    prefix, _, kind = tag.partition("-")
    if kind and prefix.upper() in ("S", "U"):
        return f"a one-word entity is B-{kind} (BIOES and BILOU write it {prefix}-)"
    if kind and prefix.upper() in ("E", "L"):
        return f"an entity's last word is I-{kind} (BIOES and BILOU write it {prefix}-)"
    if kind and prefix in ("b", "i"):
        return f"the prefix is upper-case: {prefix.upper()}-{kind}"
    if tag.lower() == "o":
        return "outside an entity the tag is O, upper-case"
    if not kind and tag.strip():
        return f"an entity's first word is B-{_show(tag)}, the rest I-{_show(tag)}"
    return "write O outside entities, B-X on an entity's first word and I-X on the rest"


def _check_tag(where: str, tag: str, previous: str) -> None:
    """One tag against BIO (IOB2), given the tag before it in its sentence ("" at the start)."""
    if not _BIO.fullmatch(tag):
        raise ConfigError(
            f"{where} has the tag '{_show(tag)}', of an unknown tag scheme; ptm reads BIO tags "
            f"(O, B-X, I-X): {_scheme_fix(tag)}"
        )
    kind = tag[2:]
    if tag.startswith("I-") and previous not in (f"B-{kind}", tag):
        after = f"follows '{_show(previous)}'" if previous else "starts the sentence"
        raise ConfigError(
            f"{where} has the tag '{_show(tag)}', which {after}; ptm reads IOB2, where every entity "
            f"starts with B-: make it B-{kind}"
        )


def _conll_sentences(path: Path, text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(split_rows(text), start=1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                sentences.append((tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        if len(fields) == 1:
            raise ConfigError(
                f"{path} line {number} has a word ('{_show(fields[0])}') but no tag; {_CONLL_FIX}"
            )
        _check_tag(f"{path} line {number}", fields[-1], tags[-1] if tags else "")
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        sentences.append((tuple(words), tuple(tags)))
    return sentences


def _json_kind(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {str: "a string", int: "a number", float: "a number", dict: "an object", list: "a list"}
    return kinds.get(type(value), type(value).__name__)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _record_sentence(path: object, number: int, record: Mapping[str, object]) -> Sentence:
    """One JSONL record's words and tags, each checked."""
    where = f"{path} line {number}"
    key = "tags" if "tags" in record else "ner_tags"
    words, tags = record.get("tokens"), record.get(key)
    if words is None:
        raise ConfigError(f"{where} has no tokens; {_JSONL_FIX}")
    if tags is None:
        raise ConfigError(f"{where} has tokens but no tags (or ner_tags); give one tag per token")
    for name, value in (("tokens", words), (key, tags)):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {name} is {_json_kind(value)}, not a list; {_JSONL_FIX}")
    if not words:
        raise ConfigError(f"{where} has no tokens (an empty list); give the sentence its words or delete the line")
    numbers = [tag for tag in tags if isinstance(tag, int) and not isinstance(tag, bool)]
    if numbers:
        shown = ", ".join(map(str, numbers[:3])) + (", ..." if len(numbers) > 3 else "")
        raise ConfigError(
            f"{where} gives {key} as numbers ({shown}); ptm needs tag names (e.g. B-PER) written as "
            "strings: replace each id with its name from the dataset's tag list"
        )
    for i, word in enumerate(words, start=1):
        if not isinstance(word, str):
            raise ConfigError(f"{where} token {i} is {_json_kind(word)}, not a word; write each token as a string")
        if not word.strip():
            raise ConfigError(f"{where} token {i} is empty; every token must be a word (delete it and its tag)")
        if any(c.isspace() for c in word):
            raise ConfigError(
                f"{where} token {i} ('{_show(word)}') holds a space; give each word its own token and tag"
            )
    if len(words) != len(tags):
        raise ConfigError(
            f"{where} has {_count(len(words), 'token')} but {_count(len(tags), 'tag')} ({key}); "
            "give exactly one tag per token"
        )
    previous = ""
    for i, (word, tag) in enumerate(zip(words, tags), start=1):
        if not isinstance(tag, str):
            raise ConfigError(f"{where} tag {i} is {_json_kind(tag)}; write each tag as a name, such as O or B-PER")
        _check_tag(f"{where} word {i} ('{_show(word)}')", tag, previous)
        previous = tag
    return tuple(words), tuple(tags)


def _dataset(name: str, splits: dict[str, list[Sentence]], source: str) -> TextDataset:
    names = label_names(tag for rows in splits.values() for _, tags in rows for tag in tags)
    index = {tag: i for i, tag in enumerate(names)}
    return TextDataset(
        name=name,
        label_names=names,
        splits={
            split: [Example.tagged(words, [index[tag] for tag in tags]) for words, tags in rows]
            for split, rows in splits.items()
        },
        task="tagging",
        source=source,
    )


def _file_dataset(path: Path, sentences: list[Sentence], fix: str) -> TextDataset:
    if not sentences:
        raise ConfigError(f"{path} has no tagged sentences; {fix}")
    return _dataset(path.name, {"all": sentences}, str(path.resolve()))


def _text(path: Path, fix: str) -> str:
    text = read_text(path, KINDS)
    if not text.strip():
        raise ConfigError(f"{path} is empty; {fix}")
    return text


def read_conll(path: str | Path) -> TextDataset:
    """A CoNLL file (``word TAG`` per line, or ``word ... TAG``) as one split, ``"all"``."""
    path = Path(path).expanduser()
    return _file_dataset(path, _conll_sentences(path, _text(path, _CONLL_FIX)), _CONLL_FIX)


def read_jsonl(path: str | Path) -> TextDataset:
    """A JSONL file of ``{"tokens": [...], "tags": [...]}`` (or ``ner_tags``) as one split, ``"all"``."""
    path = Path(path).expanduser()
    return from_jsonl_records(path, _jsonl(path, _text(path, _JSONL_FIX)))


def from_jsonl_records(path: Path, records: list[tuple[int, dict]]) -> TextDataset:
    """Parsed JSONL records (with their line numbers) of tagged words, as one split, ``"all"``."""
    sentences = [_record_sentence(path, number, record) for number, record in records]
    return _file_dataset(path, sentences, _JSONL_FIX)


def refuse_columns(path: Path, text_column: str | None, label_column: str | None) -> None:
    """Column options name a text and a label column, which a tagging file does not have."""
    if text_column is not None or label_column is not None:
        raise ConfigError(
            f"--text-column/--label-column apply to text-classification files; {path} holds tagged "
            "words (tokens and tags), read as they are: leave the options out"
        )


def load_tagging_file(
    *, ref: str | Path, text_column: str | None = None, label_column: str | None = None
) -> TextDataset:
    """Read one tagged file, ``.conll`` or ``.jsonl`` with ``tokens``, into a single split, ``"all"``."""
    path = Path(ref).expanduser()
    refuse_columns(path, text_column, label_column)
    suffix = path.suffix.lower()
    if suffix == ".conll":
        return read_conll(path)
    if suffix == ".jsonl":
        return read_jsonl(path)
    raise ConfigError(f"{path} is not a .conll or .jsonl file; save the tagged words as one of those")


def load_entities() -> TextDataset:
    """``entities``: the embedded English named-entity data (PER, LOC, ORG, MISC), with fixed
    train, dev and test splits; no entity of dev or test appears in train.

    The files are written by ``data/make_entities.py``; they read like any tagged JSONL file."""
    splits: dict[str, list[Sentence]] = {}
    for split in SPLITS:
        source = resources.files("ptm_textdata").joinpath("data", f"entities-{split}.jsonl")
        records = _jsonl(source, source.read_text(encoding="utf-8"))
        splits[split] = [_record_sentence(source, number, record) for number, record in records]
    return _dataset("entities", splits, ENTITIES_SOURCE)
