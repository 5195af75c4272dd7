"""The tagging task end to end through the CLI: train on CoNLL or JSONL, evaluate with seqeval,
predict each word's tag, explain one word's tag (tiny-bert; MiniLM's number is in benchmarks/)."""

from __future__ import annotations

import json

import pytest

PEOPLE = ["ana", "luis silva", "mei", "tom", "olga petrova", "kofi"]
PLACES = ["porto", "lima", "oslo", "new delhi", "cairo"]
ORGS = ["acme corp", "the bank of lima", "unesco"]


def _sentences(n: int = 60) -> list[tuple[list[str], list[str]]]:
    """Three templates whose words decide the tags: learnable by a tiny random BERT in seconds."""
    out = []
    for i in range(n):
        person, place, org = PEOPLE[i % 6].split(), PLACES[i % 5].split(), ORGS[i % 3].split()
        words, tags = [], []

        def add(span: list[str], kind: str | None) -> None:
            words.extend(span)
            tags.extend(["O"] * len(span) if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (len(span) - 1))

        if i % 3 == 0:
            add(person, "PER"), add(["flew", "to"], None), add(place, "LOC"), add(["."], None)
        elif i % 3 == 1:
            add(person, "PER"), add(["works", "at"], None), add(org, "ORG"), add(["."], None)
        else:
            add(["we", "met", "in"], None), add(place, "LOC"), add(["."], None)
        out.append((words, tags))
    return out


def conll_file(path, sentences=None):
    lines = ["-DOCSTART- O", ""]
    for words, tags in sentences or _sentences():
        lines += [f"{w} {t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines))
    return path


def jsonl_file(path, sentences=None):
    path.write_text("".join(json.dumps({"tokens": w, "ner_tags": t}) + "\n" for w, t in sentences or _sentences()))
    return path


FAST = ["--model", "tiny-bert", "--epochs", "6", "--batch-size", "8", "--lr", "3e-3", "--max-length", "32", "--quiet"]


@pytest.fixture(scope="module")
def tagging_run(tmp_path_factory):
    """One tiny-bert tagging run trained from a CoNLL file through the CLI (shared: ~5 s)."""
    from click.testing import CliRunner

    from toolkit.cli import create_cli
    from toolkit.manager import create_plugin_manager

    root = tmp_path_factory.mktemp("tagging")
    data = conll_file(root / "train.conll")
    result = CliRunner().invoke(create_cli(create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})),
                                ["train", "--task", "tagging", "--data", str(data), *FAST, "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root / "run", data, result.output


def test_train_on_conll_reports_entity_f1_and_records_the_task(tagging_run):
    run, _, output = tagging_run
    assert output.startswith("entity-F1 ")  # the task's headline metric, then its others
    assert "entity-precision" in output and "token-accuracy" in output
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "tagging" and config["trainer"] == "tagger"  # --task picked the trainer
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["f1"] == metrics["final"]["f1"] and metrics["final"]["per_type"].keys() <= {"PER", "LOC", "ORG"}
    assert (run / "curves.png").is_file() and not (run / "confusion.png").exists()


def test_evaluate_json_gives_seqeval_scores(tagging_run, ptm_cli, tmp_path):
    from seqeval.metrics import f1_score

    run, _, _ = tagging_run
    held_out = jsonl_file(tmp_path / "test.jsonl", _sentences(30))
    result = ptm_cli("evaluate", str(run), "--data", str(held_out), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert {"f1", "precision", "recall", "n"} <= scores.keys() and scores["n"] == 30
    assert scores["f1"] >= 0.9  # three templates, learnt
    # the F1 is seqeval's on the predicted tags
    predicted = json.loads(ptm_cli("predict", str(run), *[" ".join(w) for w, _ in _sentences(30)], "--json").stdout)
    truth = [t for _, t in _sentences(30)]
    assert scores["f1"] == pytest.approx(f1_score(truth, [[w["tag"] for w in row["words"]] for row in predicted]))


def test_predict_prints_each_word_with_its_tag(tagging_run, ptm_cli):
    run, _, _ = tagging_run
    result = ptm_cli("predict", str(run), "Olga Petrova flew to Cairo.", "We met in Lima.")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.strip().split("\n\n")
    rows = [line.split("\t") for line in first.splitlines()]
    assert [r[2] for r in rows] == ["Olga", "Petrova", "flew", "to", "Cairo", "."]  # case kept, "." split off
    assert [r[0] for r in rows] == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert all(0 < float(r[1]) <= 1 for r in rows)
    assert second.splitlines()[3].split("\t") [0::2] == ["B-LOC", "Lima"]
    [row] = json.loads(ptm_cli("predict", str(run), "Olga Petrova flew to Cairo.", "--json").stdout)
    assert row["entities"] == [{"type": "PER", "text": "Olga Petrova", "start": 0, "end": 2},
                               {"type": "LOC", "text": "Cairo", "start": 4, "end": 5}]


def test_explain_word_attributes_that_words_tag_and_marks_it(tagging_run, ptm_cli, tmp_path):
    run, _, _ = tagging_run
    result = ptm_cli("explain", str(run), "Olga Petrova flew to Cairo.", "--word", "Cairo", "--format", "json",
                     "--n-steps", "16")
    assert result.exit_code == 0, result.output
    [e] = json.loads(result.stdout)
    assert e["focus"] == 4 and e["words"][4] == "Cairo" and e["target_label"] == "B-LOC"
    # completeness: the attributions add up to the word's logit difference (to the convergence delta)
    assert abs(e["delta"]) < 0.05 * max(1.0, sum(abs(a) for a in e["attributions"]))
    text = ptm_cli("explain", str(run), "Olga Petrova flew to Cairo.", "--word", "0", "--method", "occlusion")
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("B-PER of word 0 'Olga'") and "[Olga](" in text.stdout
    png = ptm_cli("explain", str(run), "Olga Petrova flew to Cairo.", "--word", "1", "--format", "png",
                  "--output", str(tmp_path / "w.png"), "--method", "saliency")
    assert png.exit_code == 0 and (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message"), [
    ([], "tags each word: say which word's tag to explain with --word N"),
    (["--word", "9"], "--word 9: 'Ana flew to Oslo.' has 5 words, numbered 0 to 4"),
    (["--word", "Paris"], "'Paris' is not a word of 'Ana flew to Oslo.'"),
])
def test_explain_word_errors_are_one_line(tagging_run, ptm_cli, args, message):
    run, _, _ = tagging_run
    result = ptm_cli("explain", str(run), "Ana flew to Oslo.", *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_a_jsonl_file_trains_the_same_task_and_tagging_refuses_what_it_cannot_do(ptm_cli, tmp_path, tagging_run):
    data = jsonl_file(tmp_path / "train.jsonl")
    result = ptm_cli("train", "--data", str(data), *FAST, "--epochs", "1", "--out", str(tmp_path / "j"))
    assert result.exit_code == 0, result.output  # the data's own task: tagging
    assert json.loads((tmp_path / "j" / "config.json").read_text())["task"] == "tagging"
    refusals = [
        (["train", "--data", str(data), *FAST, "--privacy", "dp-sgd", "--epsilon", "8", "--out", str(tmp_path / "p")],
         "trainer 'tagger' cannot train with a privacy mechanism"),
        (["train", "--task", "text-classification", "--data", str(data), *FAST, "--out", str(tmp_path / "c")],
         "labelled for task 'tagging', not 'text-classification'"),
        (["explain", "evaluate", str(tagging_run[0]), "--data", str(data)], "explain evaluate scores explanations of a text's class"),
    ]
    for args, message in refusals:
        result = ptm_cli(*args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "p").exists() and not (tmp_path / "c").exists()
