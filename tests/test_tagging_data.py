"""Tagged words: the CoNLL and JSONL readers, their refusals, and the embedded ``entities`` data."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ptm_textdata import tagging
from ptm_textdata.files import load_file
from ptm_textdata.tagging import load_entities, load_tagging_file, read_conll
from toolkit.errors import ConfigError
from toolkit.pipeline import load_data

DATA = Path(tagging.__file__).parent / "data"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _sentences(dataset, split: str = "all") -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each example's words and its tags by name."""
    return [(e.words, tuple(dataset.label_names[t] for t in e.tags)) for e in dataset.split(split)]


def _entities(words, tags) -> list[str]:
    """Each entity's words joined by spaces, with its type: 'PER:Maria de Souza' (the spans
    seqeval scores)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [f"{kind}:{' '.join(words[start:end + 1])}" for kind, start, end in get_entities(list(tags))]


def test_conll_with_two_fields_docstart_and_crlf(tmp_path):
    path = _write(tmp_path / "d.conll", "-DOCSTART- O\r\n\r\nAnna B-PER\r\nlives\tO\r\nin O\r\nNew B-LOC\r\n"
                                         "York I-LOC\r\n\r\n\r\nHi O\r\nthere O")
    data = read_conll(path)
    assert data.task == "tagging" and list(data.splits) == ["all"] and data.name == "d.conll"
    assert _sentences(data) == [
        (("Anna", "lives", "in", "New", "York"), ("B-PER", "O", "O", "B-LOC", "I-LOC")),
        (("Hi", "there"), ("O", "O")),
    ]
    first = data.split("all")[0]
    assert first.text == "Anna lives in New York" and first.label == -1


def test_conll_2003_style_takes_the_first_field_and_the_last(tmp_path):
    path = _write(tmp_path / "eng.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
                                           "German JJ B-NP B-MISC\ncall NN I-NP O\n\nPeter NNP B-NP B-PER\n"
                                           "Blackburn NNP I-NP I-PER\n")
    assert _sentences(read_conll(path)) == [
        (("EU", "rejects", "German", "call"), ("B-ORG", "O", "B-MISC", "O")),
        (("Peter", "Blackburn"), ("B-PER", "I-PER")),
    ]


def test_jsonl_with_tags_or_ner_tags(tmp_path):
    path = _write(tmp_path / "d.jsonl", '{"tokens": ["Maria", "de", "Souza", "left"], "tags": ["B-PER", "I-PER", "I-PER", "O"]}\n'
                                         '\n{"id": 7, "tokens": ["in", "Lagos"], "ner_tags": ["O", "B-LOC"]}\n')
    data = load_tagging_file(ref=path)
    assert _sentences(data) == [
        (("Maria", "de", "Souza", "left"), ("B-PER", "I-PER", "I-PER", "O")),
        (("in", "Lagos"), ("O", "B-LOC")),
    ]
    assert data.tag_counts()["I-PER"] == 2


def test_tag_names_are_o_then_each_type_sorted_with_b_and_i(tmp_path):
    one = _write(tmp_path / "one.conll", "Rome B-LOC\nand O\nUNESCO B-ORG\n\nAnna B-PER\n")
    other = _write(tmp_path / "other.jsonl", '{"tokens": ["Acme", "Corp", "hired", "Li", "Wei", "in", "Oslo"], '
                                             '"tags": ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "B-LOC"]}\n')
    expected = ("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER")
    assert read_conll(one).label_names == expected  # I- tags too, though the file has only B-
    assert load_tagging_file(ref=other).label_names == expected


def test_load_file_hands_tagging_files_to_the_tagging_reader(tmp_path):
    conll = _write(tmp_path / "d.conll", "Anna B-PER\nlives O\n")
    tagged = _write(tmp_path / "t.jsonl", '{"tokens": ["Anna", "lives"], "tags": ["B-PER", "O"]}\n')
    labelled = _write(tmp_path / "l.jsonl", '{"text": "good film", "label": "pos"}\n{"text": "bad", "label": "neg"}\n')
    assert load_file(ref=conll).task == "tagging"
    assert load_file(ref=tagged).task == "tagging"
    assert _sentences(load_file(ref=tagged)) == [(("Anna", "lives"), ("B-PER", "O"))]
    classified = load_file(ref=labelled)
    assert classified.task == "text-classification" and classified.label_names == ("neg", "pos")
    with pytest.raises(ConfigError, match=r"t\.jsonl holds tagged words"):
        load_file(ref=tagged, text_column="text")


@pytest.mark.parametrize("reader", [load_file, load_tagging_file])
def test_column_options_apply_to_text_classification_files_only(tmp_path, reader):
    path = _write(tmp_path / "d.conll", "Anna B-PER\n")
    with pytest.raises(ConfigError) as error:
        reader(ref=path, label_column="tags")
    message = str(error.value)
    assert message.startswith("--text-column/--label-column apply to text-classification files; ")
    assert "d.conll" in message and "\n" not in message


REFUSALS = {
    "conll word without a tag": ("d.conll", "Anna B-PER\nlives\n", "d.conll line 2 has a word ('lives') but no tag; "
                                 "write one 'word TAG' per line"),
    "bioes single": ("d.conll", "Anna S-PER\n", "d.conll line 1 has the tag 'S-PER', of an unknown tag scheme; "
                     "ptm reads BIO tags (O, B-X, I-X): a one-word entity is B-PER"),
    "bioes end": ("d.conll", "New B-LOC\nYork E-LOC\n", "line 2 has the tag 'E-LOC', of an unknown tag scheme; ptm reads BIO tags"),
    "bare type": ("d.conll", "Anna PER\n", "line 1 has the tag 'PER', of an unknown tag scheme; ptm reads BIO tags"),
    "lower case": ("d.conll", "x O\nAnna b-per\n", "line 2 has the tag 'b-per', of an unknown tag scheme; ptm reads BIO tags"),
    "i after o": ("d.conll", "the O\nYork I-LOC\n", "d.conll line 2 has the tag 'I-LOC', which follows 'O'; "
                  "ptm reads IOB2, where every entity starts with B-: make it B-LOC"),
    "i starting a sentence": ("d.conll", "Anna B-PER\n\nYork I-LOC\n", "line 3 has the tag 'I-LOC', which starts the sentence; "
                              "ptm reads IOB2"),
    "i of another type": ("d.conll", "Anna B-PER\nSmith I-LOC\n", "line 2 has the tag 'I-LOC', which follows 'B-PER'"),
    "conll with only a docstart": ("d.conll", "-DOCSTART- -X- O O\n\n", "d.conll has no tagged sentences"),
    "empty conll": ("d.conll", "", "d.conll is empty"),
    "nul byte": ("d.conll", "Anna B-PER\n" * 500 + "li\x00ves O\n", "d.conll holds a NUL byte on line 501"),
    "jsonl lengths differ": ("d.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["Anna", "lives"], "tags": ["B-PER"]}\n',
                             "d.jsonl line 2 has 2 tokens but 1 tag (tags); give exactly one tag per token"),
    "jsonl integer tags": ("d.jsonl", '{"tokens": ["Anna", "lives"], "ner_tags": [1, 0]}\n',
                           "d.jsonl line 1 gives ner_tags as numbers (1, 0); ptm needs tag names (e.g. B-PER) written as strings"),
    "jsonl i after o": ("d.jsonl", '{"tokens": ["Anna", "Smith"], "tags": ["O", "I-PER"]}\n',
                        "d.jsonl line 1 word 2 ('Smith') has the tag 'I-PER', which follows 'O'; ptm reads IOB2"),
    "jsonl unknown scheme": ("d.jsonl", '{"tokens": ["Anna"], "tags": ["U-PER"]}\n',
                             "line 1 word 1 ('Anna') has the tag 'U-PER', of an unknown tag scheme; ptm reads BIO tags (O, B-X, I-X)"),
    "jsonl empty tokens": ("d.jsonl", '{"tokens": [], "tags": []}\n', "d.jsonl line 1 has no tokens (an empty list)"),
    "jsonl empty token": ("d.jsonl", '{"tokens": ["Anna", " "], "tags": ["B-PER", "O"]}\n', "d.jsonl line 1 token 2 is empty"),
    "jsonl tokens not a list": ("d.jsonl", '{"tokens": "Anna lives", "tags": ["B-PER", "O"]}\n',
                                "d.jsonl line 1: tokens is a string, not a list"),
    "jsonl tags not a list": ("d.jsonl", '{"tokens": ["Anna"], "tags": "B-PER"}\n', "line 1: tags is a string, not a list"),
    "jsonl without tags": ("d.jsonl", '{"tokens": ["Anna"]}\n', "d.jsonl line 1 has tokens but no tags (or ner_tags)"),
    "jsonl later line without tokens": ("d.jsonl", '{"tokens": ["Anna"], "tags": ["B-PER"]}\n{"text": "hi"}\n',
                                        "d.jsonl line 2 has no tokens"),
    "jsonl token with a space": ("d.jsonl", '{"tokens": ["New York"], "tags": ["B-LOC"]}\n',
                                 "line 1 token 1 ('New York') holds a space"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_bad_tagging_files_are_refused_in_one_line(tmp_path, name):
    file_name, text, expected = REFUSALS[name]
    path = _write(tmp_path / file_name, text)
    for reader in (load_tagging_file, load_file):
        with pytest.raises(ConfigError) as error:
            reader(ref=path)
        message = str(error.value)
        assert expected in message, (name, message)
        assert "\n" not in message and str(path) in message


def test_entities_has_fixed_splits_and_every_type():
    data = load_entities()
    assert data.task == "tagging" and data.name == "entities"
    assert {split: len(rows) for split, rows in data.splits.items()} == {"train": 400, "dev": 100, "test": 200}
    assert data.label_names == ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")
    for split in data.splits:
        counts = data.tag_counts(split)
        assert all(counts[tag] > 0 for tag in data.label_names), (split, counts)
    rows = _sentences(data, "all")
    assert all(e.text == " ".join(e.words) and len(e.words) == len(e.tags) for e in data.split("all"))
    assert len({words for words, _ in rows}) == 700  # no sentence twice
    without = sum(all(tag == "O" for tag in tags) for _, tags in rows)
    assert 0.02 <= without / len(rows) <= 0.08  # a few sentences name no entity


def test_entities_tags_are_bio():
    data = load_entities()
    for words, tags in _sentences(data, "all"):
        for i, tag in enumerate(tags):
            if tag.startswith("I-"):
                assert i > 0 and tags[i - 1] in (f"B-{tag[2:]}", tag), (words, tags)


def test_no_entity_of_dev_or_test_is_seen_in_train():
    data = load_entities()
    names = {split: {e for words, tags in _sentences(data, split) for e in _entities(words, tags)} for split in data.splits}
    strings = {split: {e.split(":", 1)[1] for e in found} for split, found in names.items()}
    assert len(strings["test"]) > 150 and len(strings["dev"]) > 60
    assert not strings["test"] & strings["train"]
    assert not strings["dev"] & strings["train"]
    # Not even inside a train sentence (a test LOC "Lisbon" in a train ORG "Bank of Lisbon").
    train = "\n".join(f" {e.text.lower()} " for e in data.split("train"))
    for split in ("dev", "test"):
        assert not [s for s in strings[split] if f" {s.lower()} " in train], split
    multiword = [s for s in strings["train"] | strings["test"] if " " in s]
    assert len(multiword) > 100  # I- tags come from many names, not a few


def test_the_embedded_files_are_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("make_entities", DATA / "make_entities.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    splits = script.generate()
    script.check(splits)
    shared, test_only = script.templates()
    assert len(shared) + len(test_only) >= 50
    for split, rows in splits.items():
        stored = [json.loads(line) for line in (DATA / f"entities-{split}.jsonl").read_text().splitlines()]
        assert stored == [{"tokens": words, "tags": tags} for words, tags in rows], split


def test_the_task_and_data_are_registered(ptm_manager, tmp_path):
    task = ptm_manager.registry.get("task", "tagging")
    assert (task.labels, task.head, task.trainer, task.data) == ("per-word", "token", "tagger", "entities")
    assert task.metrics[0] == "f1"
    spec = ptm_manager.registry.get("dataset", "entities")
    assert spec.task == "tagging" and "700" in spec.summary
    assert load_data(ptm_manager, "entities").splits["test"] == load_entities().splits["test"]
    conll = _write(tmp_path / "x.conll", "Anna B-PER\n")
    assert ptm_manager.registry.resolve("dataset", str(conll))[0].id == "file"
    assert load_data(ptm_manager, str(conll)).task == "tagging"
    with pytest.raises(ConfigError, match="apply to text-classification files"):
        load_data(ptm_manager, str(conll), text_column="text")
