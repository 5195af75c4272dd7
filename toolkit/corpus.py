"""Unlabelled text for pretraining: a text file (one document per line) or a labelled
dataset's texts with the labels dropped.

The core knows no tokenizer here: a corpus is a named list of strings, so any plugin can
pretrain on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.data import split_rows
from toolkit.errors import ConfigError

TEXT_SUFFIXES = (".txt", ".text")


@dataclass(frozen=True)
class Corpus:
    """Documents of unlabelled text.

    Attributes:
        name: what the corpus is called (a file name or a dataset id).
        texts: the documents, in file order, blank lines dropped.
        source: where they came from, for the run's config.
    """

    name: str
    texts: tuple[str, ...]
    source: str = ""


def load_corpus(pm: Any, ref: str) -> Corpus:
    """A corpus from a ``.txt`` file, or from any dataset ``ptm train --data`` accepts.

    A dataset gives the text of every example of every split (and the second text of a pair);
    its labels are ignored.
    """
    path = Path(ref).expanduser()
    if path.suffix.lower() in TEXT_SUFFIXES:
        if not path.is_file():
            raise ConfigError(f"corpus file {path} does not exist; give a .txt file with one document per line")
        raw = path.read_bytes()
        if b"\x00" in raw:
            # Text never holds a NUL; tokenizers drop it, so this file would pretrain on empty documents.
            line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
            raise ConfigError(
                f"corpus file {path} holds NUL bytes (first on line {line}), so it is binary or damaged; "
                "give a UTF-8 .txt file with one document per line"
            )
        try:
            lines = split_rows(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"corpus file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
            ) from None
        texts = tuple(line.strip() for line in lines if line.strip())
        source = str(path)
    else:
        from toolkit.pipeline import load_data

        dataset = load_data(pm, ref)
        texts = tuple(
            text
            for example in dataset.split("all")
            for text in (example.text, example.text_pair)
            if text and text.strip()
        )
        source = f"dataset '{ref}' ({dataset.source or dataset.name}), labels dropped"
    if not texts:
        raise ConfigError(f"corpus '{ref}' has no text; give a file with one document per line")
    return Corpus(name=path.name if path.suffix else ref, texts=texts, source=source)
