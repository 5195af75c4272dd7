"""Frozen layers computed once (ptm_bert.frozen): the cached path is the same function as the
full forward pass, trains the same run, and spends the same privacy budget."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import learnable_tsv
from ptm_bert import trainable
from ptm_bert.frozen import FrozenPrefix
from ptm_bert.models import load_minilm, load_tiny_bert
from ptm_bert.trainer import FineTuner
from toolkit.data import Example

TEXTS = ["a warm, funny and beautifully acted film", "dull", "the plot is thin and the jokes fall flat .",
         "i would not call it boring at all"]


def _cached_logits(fitter: FineTuner, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits through the trained top on cached rows, logits of the whole model), both in
    eval mode, for the same texts."""
    prefix = FrozenPrefix.of(fitter.model)
    assert prefix is not None
    features = fitter.encode([Example(text=t, label=i % 2) for i, t in enumerate(texts)], 64)
    rows = prefix.rows(features, fitter.collator(), device="cpu")
    top = prefix.top().eval()
    with torch.no_grad():
        batch = prefix.collate(rows)
        batch.pop("labels")
        cached = top(**batch).logits
        full = fitter.model.eval()(**fitter.collator()([{k: v for k, v in f.items() if k != "labels"}
                                                          for f in features])).logits
    return cached, full


@pytest.mark.slow
@pytest.mark.parametrize("how", ["head", "top2", "lora"])
def test_cached_features_give_the_logits_of_the_full_forward_pass_minilm(how):
    torch.manual_seed(0)
    fitter = FineTuner(load_minilm(num_labels=2), device="cpu")
    fitter.model = trainable.apply(fitter.model, how)
    prefix = FrozenPrefix.of(fitter.model)
    assert prefix.first == {"head": 6, "top2": 4, "lora": 0}[how]
    cached, full = _cached_logits(fitter, TEXTS)
    assert cached.shape == (len(TEXTS), 2)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("how", ["head", "top1"])
def test_cached_features_give_the_logits_of_the_full_forward_pass_cls_pooler(how):
    fitter = FineTuner(load_tiny_bert(num_labels=3), device="cpu")
    fitter.model = trainable.apply(fitter.model, how)
    cached, full = _cached_logits(fitter, TEXTS)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_nothing_is_cached_when_the_embeddings_train_or_the_head_is_not_a_sequence_head():
    fitter = FineTuner(load_tiny_bert(), device="cpu")
    assert FrozenPrefix.of(trainable.apply(fitter.model, "all")) is None
    tagger = load_tiny_bert(num_labels=3, head="token").model
    assert FrozenPrefix.of(trainable.apply(tagger, "head")) is None


def test_a_cached_run_trains_exactly_like_an_uncached_one(ptm_manager, tmp_path):
    from toolkit import pipeline

    data = learnable_tsv(tmp_path / "d.tsv", 48)
    runs = {}
    for cache in (True, False):
        runs[cache] = pipeline.train(ptm_manager, model="tiny-bert", data=str(data), out=tmp_path / f"run-{cache}",
                                     epochs=3, batch_size=8, lr=1e-2, trainable="top1", cache_frozen=cache,
                                     progress=False)
    cached, plain = runs[True], runs[False]
    assert cached["frozen_cache"]["frozen_layers"] == 1 and "frozen_cache" not in plain
    assert cached["step_loss"] == pytest.approx(plain["step_loss"], abs=1e-5)
    for a, b in zip(cached["history"], plain["history"], strict=True):
        assert a == pytest.approx(b, abs=1e-5)


@pytest.mark.parametrize("how", ["head", "top1"])
def test_a_private_run_spends_the_same_epsilon_cached_or_not(ptm_manager, tmp_path, how):
    from toolkit import pipeline

    data = learnable_tsv(tmp_path / "d.tsv", 64)
    runs = {}
    for cache in (True, False):
        runs[cache] = pipeline.train(ptm_manager, model="tiny-bert", data=str(data), out=tmp_path / f"run-{cache}",
                                     privacy="dp-sgd", privacy_options={"epsilon": 4.0}, epochs=3, batch_size=16,
                                     lr=5e-2, trainable=how, cache_frozen=cache, progress=False)
    cached, plain = runs[True], runs[False]
    assert "frozen_cache" in cached and "frozen_cache" not in plain
    for key in ("epsilon", "delta", "noise_multiplier", "sample_rate", "steps", "accountant"):
        assert cached[key] == plain[key], key
    assert cached["epsilon"] <= 4.0
    assert [h["epsilon"] for h in cached["history"]] == [h["epsilon"] for h in plain["history"]]
    # Same Poisson draws, same noise: the two runs are the same run, to float rounding.
    assert cached["step_loss"] == pytest.approx(plain["step_loss"], abs=1e-4)


def test_the_default_private_recipe_trains_the_head_on_cached_features(ptm_cli, tmp_path):
    data = learnable_tsv(tmp_path / "d.tsv", 40)
    out = tmp_path / "dp"
    result = ptm_cli("train", "--model", "tiny-bert", "--data", str(data), "--privacy", "dp-sgd", "--epsilon", "8",
                     "--epochs", "2", "--quiet", "--out", str(out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["trainable"] == "head" and metrics["frozen_cache"]["cached"] == "pooled"
    assert metrics["frozen_cache"]["frozen_layers"] == 2 and metrics["epsilon"] <= 8
    uncached = tmp_path / "dp-uncached"
    result = ptm_cli("train", "--model", "tiny-bert", "--data", str(data), "--privacy", "dp-sgd", "--epsilon", "8",
                     "--epochs", "2", "--no-cache-frozen", "--quiet", "--out", str(uncached))
    assert result.exit_code == 0, result.output
    plain = json.loads((uncached / "metrics.json").read_text())
    assert "frozen_cache" not in plain and plain["epsilon"] == metrics["epsilon"]
    assert plain["accuracy"] == metrics["accuracy"]
