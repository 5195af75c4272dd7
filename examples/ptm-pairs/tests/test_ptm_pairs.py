"""ptm-pairs' own tests, written with the fixtures and contract checks of ``toolkit.testing``
(a pytest plugin that ptm-toolkit installs; nothing to import or configure)."""

from __future__ import annotations

import json

from toolkit.testing import check_dataset, check_explainer, check_task

PAIRS = ["The soup was cold.", "The server sends a request every minute."]
SECONDS = ["The soup was not warm.", "The client sends a request every minute."]


def test_the_plugin_registers_a_task_and_its_data(ptm_cli):
    result = ptm_cli("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    [row] = [r for r in json.loads(result.output) if r["name"] == "ptm_pairs"]
    assert row["status"] == "loaded"
    assert row["ids"] == {"dataset": ["pairs-file", "paraphrases"], "task": ["pairs"]}


def test_task_and_data_keep_the_contract(ptm_manager):
    task = check_task(ptm_manager, "pairs")
    assert task.inputs == ("text", "text_pair")
    data = check_dataset(ptm_manager, "paraphrases")
    assert data.label_names == ("different", "paraphrase")
    assert {name: len(rows) for name, rows in data.splits.items()} == {"train": 240, "test": 80}
    assert data.label_counts("test") == {"different": 40, "paraphrase": 40}


def test_a_pair_file_of_your_own_loads(ptm_manager, tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("sentence1\tsentence2\tlabel\n" + "".join(
        f"{a}\t{b}\t{label}\n" for a, b, label in
        [("a b", "a b c", "same"), ("c d", "e f", "other"), ("g h", "g h i", "same"), ("j", "k", "other")]))
    data = check_dataset(ptm_manager, f"pairs:{path}")
    assert data.label_names == ("other", "same")
    assert data.split("all")[0].text_pair == "a b c"


def test_explainers_attribute_over_both_segments(ptm_manager, ptm_tiny_model):
    for method in ("ig", "occlusion"):
        [first, _] = check_explainer(ptm_manager, method, ptm_tiny_model.model, ptm_tiny_model.tokenizer,
                                     PAIRS, text_pairs=SECONDS)
        assert first.words == ("The", "soup", "was", "cold", ".", "The", "soup", "was", "not", "warm", ".")
        assert first.word_segments == (0,) * 5 + (1,) * 6


def test_train_evaluate_predict_and_explain_through_the_cli(ptm_cli, tmp_path):
    run = tmp_path / "run"
    trained = ptm_cli("train", "--task", "pairs", "--model", "tiny-bert", "--epochs", "1",
                      "--limit", "48", "--quiet", "--out", str(run))
    assert trained.exit_code == 0, trained.output
    assert json.loads((run / "config.json").read_text())["task"] == "pairs"
    scored = ptm_cli("evaluate", str(run), "--data", "paraphrases", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["n"] == 80
    predicted = ptm_cli("predict", str(run), PAIRS[0], "--pair", SECONDS[0], "--json")
    assert predicted.exit_code == 0, predicted.output
    [row] = json.loads(predicted.output)
    assert row["text_pair"] == SECONDS[0] and row["label"] in ("different", "paraphrase")
    explained = ptm_cli("explain", str(run), PAIRS[0], "--pair", SECONDS[0], "--format", "json")
    assert explained.exit_code == 0, explained.output
    [record] = json.loads(explained.output)
    assert record["text_pair"] == SECONDS[0] and 1 in record["word_segments"]
    one_text = ptm_cli("predict", str(run), PAIRS[0])
    assert one_text.exit_code == 2
    assert "give --pair TEXT once for each text" in one_text.output
