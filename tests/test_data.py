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
