from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from ptm_textdata import reviews
from ptm_textdata.files import load_file
from toolkit.errors import ConfigError
from toolkit.pipeline import load_data

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def test_reviews_is_balanced_with_fixed_splits_and_rationales():
    data = reviews.load_reviews()
    train, test = data.split("train"), data.split("test")
    assert len(train) + len(test) >= 600
    assert data.label_names == ("negative", "positive")
    for split in ("train", "test"):
        counts = data.label_counts(split)
        assert counts["negative"] == counts["positive"]
    assert data.train_test() == (train, test)  # fixed, not re-drawn
    texts = [e.text for e in train + test]
    assert len(set(texts)) == len(texts)
    with_rationale = [e for e in test if e.rationale]
    assert len(with_rationale) >= 150
    for e in with_rationale:
        words = set(re.findall(r"[a-z0-9]+", e.text.lower()))
        assert set(e.rationale) <= words, e


def test_reviews_covers_domains_and_hard_cases():
    rows = reviews.rows()
    assert Counter(r["domain"] for r in rows).keys() == {"film", "app", "restaurant", "product"}
    tags = Counter(t for r in rows for t in r["tags"])
    for hard in ("negation", "contrast", "intensifier", "mixed"):
        assert tags[hard] >= 30, hard
    hard_share = sum(bool(r["tags"]) for r in rows) / len(rows)
    assert hard_share >= 0.35


def test_tsv_in_glue_sst2_format(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\nit \'s a "charming" film \t1\ndull , dull , dull \t0\n')
    data = load_file(ref=path)
    assert [(e.text, e.label) for e in data.split("all")] == [
        ('it \'s a "charming" film ', 1),
        ("dull , dull , dull ", 0),
    ]
    assert data.label_names == ("0", "1")


@pytest.mark.skipif(not SST2.is_dir(), reason="../shared/data/sst2 is not beside the project")
def test_the_real_sst2_dev_file_reads_as_is():
    data = load_file(ref=SST2 / "dev.tsv")
    assert len(data.split("all")) == 872
    assert data.label_counts() == {"0": 428, "1": 444}


def test_csv_with_string_labels_keeps_the_names(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('review,sentiment\n"Loved it, truly",pos\nMeh,neg\n"Great, again",pos\n')
    data = load_file(ref=path)
    assert data.label_names == ("neg", "pos")
    assert [e.label for e in data.split("all")] == [1, 0, 1]
    assert data.split("all")[0].text == "Loved it, truly"


def test_jsonl_with_named_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"body": t, "stars": s}) for t, s in [("good", "5"), ("bad", "1")]))
    with pytest.raises(ConfigError, match="has no text column .* name one with --text-column"):
        load_file(ref=path)
    data = load_file(ref=path, text_column="body", label_column="stars")
    assert data.label_names == tuple(str(i) for i in range(6))
    assert [e.label for e in data.split("all")] == [5, 1]


def test_jsonl_broken_line_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n{"text": "broken", "label"\n')
    with pytest.raises(ConfigError, match=r"d\.jsonl line 2 is not valid JSON"):
        load_file(ref=path)


def test_files_resolve_through_the_registry_and_unknown_ids_get_suggestions(ptm_manager, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,label\na,0\nb,1\n")
    assert load_data(ptm_manager, str(path)).name == "x.csv"
    with pytest.raises(ConfigError, match="dataset 'revews' not found. Did you mean 'reviews'?"):
        load_data(ptm_manager, "revews")


def test_hugging_face_datasets_load_through_the_datasets_library(ptm_manager, tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])}
    )
    splits = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"sentence": ["good", "bad"], "label": [1, 0]}, features=features),
            "validation": datasets.Dataset.from_dict({"sentence": ["fine"], "label": [1]}, features=features),
            "test": datasets.Dataset.from_dict({"sentence": ["hidden"], "label": [-1]}, features=features),
        }
    )
    splits.save_to_disk(tmp_path / "sst2ish")
    data = load_data(ptm_manager, f"hf:{tmp_path / 'sst2ish'}")
    assert data.label_names == ("negative", "positive")
    assert set(data.splits) == {"train", "test"}  # validation is the test; hidden labels dropped
    assert [e.text for e in data.split("test")] == ["fine"]


def test_hold_out_split_is_stratified_and_seeded(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(100)))
    data = load_file(ref=path)
    train, test = data.train_test(seed=3)
    assert len(test) == 10 and Counter(e.label for e in test) == {0: 5, 1: 5}
    assert data.train_test(seed=3) == (train, test)
    assert not {e.text for e in train} & {e.text for e in test}


# Only \n and \r\n end a row; str.splitlines() would also split at each of these.
LINE_LIKE = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r"


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_a_text_keeps_every_character_that_is_not_a_row_end(tmp_path, suffix):
    texts = [f"one{c}two" for c in LINE_LIKE] + ["plain"]
    path = tmp_path / f"d{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\r\n" for i, t in enumerate(texts)),
                        newline="")
    else:
        sep = "\t" if suffix == ".tsv" else ","
        path.write_text(f"text{sep}label\r\n" + "".join(f"{t}{sep}{i % 2}\n" for i, t in enumerate(texts)),
                        newline="")
    data = load_file(ref=path)
    assert [e.text for e in data.split("all")] == texts
    assert [e.label for e in data.split("all")] == [i % 2 for i in range(len(texts))]


def test_a_raw_control_character_in_a_jsonl_text_is_kept(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "page\x0cbreak", "label": 1}\n{"text": "ok", "label": 0}\n', newline="")
    assert [e.text for e in load_file(ref=path).split("all")] == ["page\x0cbreak", "ok"]


def test_a_csv_text_keeps_quoted_commas_and_line_breaks(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"good,\nreally",1\nbad,0\n"last\r\none",1\n', newline="")
    data = load_file(ref=path)
    assert [e.text for e in data.split("all")] == ["good,\nreally", "bad", "last\r\none"]


def test_a_file_with_no_newline_at_all_ends_rows_at_carriage_returns(tmp_path):
    path = tmp_path / "mac.tsv"
    path.write_text("text\tlabel\rgood\t1\rbad\t0\r", newline="")
    assert [(e.text, e.label) for e in load_file(ref=path).split("all")] == [("good", 1), ("bad", 0)]


def test_a_field_longer_than_the_csv_module_default_reads(tmp_path):
    long_text = "word " * 40_000  # 200,000 characters; the csv module's default limit is 131,072
    path = tmp_path / "long.csv"
    path.write_text(f'text,label\n"{long_text}",1\nshort,0\n')
    assert [len(e.text) for e in load_file(ref=path).split("all")] == [200_000, 5]
    tsv = tmp_path / "long.tsv"
    tsv.write_text(f"text\tlabel\n{long_text}\t1\nshort\t0\n")
    assert len(load_file(ref=tsv).split("all")[0].text) == 200_000


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_a_repeated_column_is_refused(tmp_path, suffix):
    sep = "\t" if suffix == ".tsv" else ","
    path = tmp_path / f"d{suffix}"
    path.write_text(sep.join(["text", "label", "label"]) + "\n" + sep.join(["good", "1", "0"]) + "\n")
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (f"{path} has two columns named 'label' (columns 2 and 3); "
                                "rename or delete one, so that each column has its own name")


def test_a_repeated_jsonl_key_is_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": 0, "label": 1}\n')
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (f"{path} line 2 gives the key 'label' twice; keep one "
                                "(JSON readers silently keep the last)")


def test_labels_that_mix_numbers_and_words_are_refused(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\na\t1\nb\tpos\nc\tpos\nd\t0\ne\tneg\n")
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (
        f"{path} label column 'label' mixes numbers and words: rows 2, 5 are numbers (1, 0) but "
        "rows 3, 4, 6 are words (pos, neg); give every row an id 0..K-1 or every row a name")


def test_decimal_labels_are_refused(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\na\t0.5\nb\t1.0\nc\t2.5\nd\t1.0\ne\t3e2\n")
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (
        f"{path} label column 'label' holds decimals: rows 2, 3, 4, ... are decimals (0.5, 1.0, 2.5, ...); "
        "labels must be whole-number ids 0..K-1 or names, one per class")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0.5}\n')
    with pytest.raises(ConfigError, match=r"row 2 is a decimal \(0\.5\); labels must be whole-number ids"):
        load_file(ref=jsonl)


def test_labels_that_look_like_numbers_but_are_words_stay_words(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\na\t4.5 stars\nb\t1 star\nc\tv1.0\n")
    assert load_file(ref=path).label_names == ("1 star", "4.5 stars", "v1.0")


def test_a_quoted_tab_in_a_tsv_text_is_refused(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text('text\tlabel\ngood\t1\n"a\tb"\t1\nbad\t0\n')
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (
        f"{path} row 3 has 3 fields but the header has 2 (text, label); a TSV text cannot hold a tab "
        "or a line break, even in quotes: save the data as CSV or JSONL")


def test_a_short_tsv_row_is_refused_and_a_trailing_tab_is_not(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\ngood\t1\nhalf a text\nbad\t0\n")
    with pytest.raises(ConfigError, match=r"row 3 has 1 field but the header has 2 \(text, label\); a TSV text"):
        load_file(ref=path)
    path.write_text("text\tlabel\ngood\t1\t\nbad\t0\n")
    assert [e.label for e in load_file(ref=path).split("all")] == [1, 0]
    path.write_text("text\tlabel\ngood\t1\nbad fi")  # cut off mid-row
    with pytest.raises(ConfigError, match=r"row 3 lacks a label value \(a truncated file\?\)"):
        load_file(ref=path)


def test_an_unquoted_comma_in_a_csv_text_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood,1\nfine, really,1\n")
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (f"{path} row 3 has 3 fields but the header has 2 (text, label); "
                                'put a text that holds a comma in double quotes ("good, really")')


def test_a_nul_byte_past_the_start_of_a_data_file_is_refused(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\n" + "good\t1\n" * 1000 + "ba\x00d\t0\n")
    with pytest.raises(ConfigError, match=r"holds a NUL byte on line 1002, so it is damaged or not text"):
        load_file(ref=path)


def test_a_corpus_keeps_line_like_characters_and_refuses_nul_bytes(ptm_manager, tmp_path):
    from toolkit.corpus import load_corpus

    path = tmp_path / "c.txt"
    path.write_text("first\u2028still first\x0cand\rstill\r\nsecond\n\nthird\n", newline="")
    assert load_corpus(ptm_manager, str(path)).texts == ("first\u2028still first\x0cand\rstill", "second", "third")
    for raw in (b"\x00" * 1000, b"a good document\nanother\x00one\n"):
        path.write_bytes(raw)
        with pytest.raises(ConfigError) as error:
            load_corpus(ptm_manager, str(path))
        line = 1 if raw.startswith(b"\x00") else 2
        assert str(error.value) == (f"corpus file {path} holds NUL bytes (first on line {line}), so it is binary "
                                    "or damaged; give a UTF-8 .txt file with one document per line")


@pytest.mark.skipif(not SST2.is_dir(), reason="../shared/data/sst2 is not beside the project")
def test_the_real_sst2_train_file_reads_as_is():
    data = load_file(ref=SST2 / "train.tsv")
    assert len(data.split("all")) == 67_349
    assert data.label_counts() == {"0": 29_780, "1": 37_569}


def test_a_short_csv_row_is_refused_with_its_own_fix(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label,source\ngood,1,web\nbad,0\nfine,1,web\n")
    with pytest.raises(ConfigError) as error:
        load_file(ref=path)
    assert str(error.value) == (f"{path} row 3 has 2 fields but the header has 3 (text, label, source); "
                                "give the row a value for each column, separated by commas")
