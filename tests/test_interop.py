"""A run's model/ folder in plain transformers: the same probabilities as `ptm predict`, or a
refusal that names why; never a silently different model."""

from __future__ import annotations

import json

import pytest

from toolkit import pipeline

TEXTS = ["the superb film was lovely", "an awful, boring evening"]
TINY = dict(epochs=1, batch_size=16, max_length=32, progress=False)


def _toy(tmp_path):
    rows = ["text\tlabel"] + [f"the {w} film\t{'pos' if i % 2 else 'neg'}"
                              for i, w in enumerate(["great", "awful", "lovely", "dreadful"] * 6)]
    (tmp_path / "toy.tsv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "toy.tsv")


def _tagged(tmp_path):
    rows = []
    for i in range(24):
        person = ["ana", "luis", "mei", "tom"][i % 4]
        city = ["porto", "lima", "oslo"][i % 3]
        rows.append({"tokens": [person, "flew", "to", city, "."], "tags": ["B-PER", "O", "O", "B-LOC", "O"]})
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_a_tiny_bert_run_gives_ptm_predict_probabilities_in_plain_transformers(ptm_manager, tmp_path):
    from transformers import AutoModelForSequenceClassification, pipeline as hf_pipeline

    run = tmp_path / "run"
    pipeline.train(ptm_manager, model="tiny-bert", data=_toy(tmp_path), out=run, **TINY)
    ours = pipeline.predict(ptm_manager, run, TEXTS)
    classify = hf_pipeline("text-classification", model=str(run / "model"), top_k=None, device="cpu")
    for row, theirs in zip(ours, classify(TEXTS)):
        got = {d["label"]: d["score"] for d in theirs}
        assert got.keys() == row["probabilities"].keys()
        for label, p in row["probabilities"].items():
            assert got[label] == pytest.approx(p, abs=1e-5)
    model = AutoModelForSequenceClassification.from_pretrained(run / "model")
    assert type(model).__name__ == "BertForSequenceClassification"


@pytest.mark.slow
def test_a_minilm_run_refuses_plain_transformers_naming_its_pooling(ptm_manager, tmp_path):
    from transformers import AutoModelForSequenceClassification, pipeline as hf_pipeline

    run = tmp_path / "run"
    pipeline.train(ptm_manager, model="minilm", data=_toy(tmp_path), out=run, limit=16, **TINY)
    # MiniLM is fine-tuned on the mean of its token vectors; BERT's class would read [CLS].
    assert json.loads((run / "model" / "config.json").read_text())["model_type"] == "ptm-mean-pooled-bert"
    for load in (lambda: AutoModelForSequenceClassification.from_pretrained(run / "model"),
                 lambda: hf_pipeline("text-classification", model=str(run / "model"))):
        with pytest.raises(ValueError, match="model type `ptm-mean-pooled-bert`"):
            load()
    # ...while ptm itself, and a run trained from it, still load it.
    [row] = pipeline.predict(ptm_manager, run, TEXTS[:1])
    assert set(row["probabilities"]) == {"neg", "pos"}
    again = pipeline.train(ptm_manager, model=str(run), data=_toy(tmp_path), out=tmp_path / "again", limit=8, **TINY)
    assert again["status"] == "finished"


def test_a_tagging_run_gives_ptm_predict_probabilities_in_plain_transformers(ptm_manager, tmp_path):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    run = tmp_path / "tagger"
    pipeline.train(ptm_manager, model="tiny-bert", data=_tagged(tmp_path), out=run, **TINY)
    [row] = pipeline.predict(ptm_manager, run, ["Ana flew to Oslo."])
    model = AutoModelForTokenClassification.from_pretrained(run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    words = [w["word"] for w in row["words"]]
    assert words == ["Ana", "flew", "to", "Oslo", "."]
    encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        probs = model(**encoded).logits.softmax(-1)[0]
    first = {}
    for position, word in enumerate(encoded.word_ids()):
        if word is not None:
            first.setdefault(word, position)
    for k, predicted in enumerate(row["words"]):
        theirs = probs[first[k]]
        assert model.config.id2label[int(theirs.argmax())] == predicted["tag"]
        assert float(theirs.max()) == pytest.approx(predicted["probability"], abs=1e-5)
