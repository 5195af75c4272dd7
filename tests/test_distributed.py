"""Data-parallel training across processes: `torchrun ... -m toolkit.cli train` with gloo on CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import learnable_tsv

PTM = str(Path(sys.executable).parent / "ptm")


def _data(path: Path, n: int = 320) -> Path:
    return learnable_tsv(path, n)


def _tiny_without_dropout(folder: Path) -> Path:
    """tiny-bert with dropout off, so one process and two see exactly the same computation."""
    from ptm_bert.models import load_tiny_bert

    loaded = load_tiny_bert(num_labels=2, labels=["0", "1"])
    config = loaded.model.config
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = config.classifier_dropout = 0.0
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


def _torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PTM_STRICT_PLUGINS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
         "-m", "toolkit.cli", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )


@pytest.mark.slow
def test_two_gloo_processes_train_exactly_like_one_with_the_same_global_batch(tmp_path):
    model = _tiny_without_dropout(tmp_path / "tiny")
    args = ["train", "--model", str(model), "--data", str(_data(tmp_path / "d.tsv")), "--epochs", "2",
            "--batch-size", "16", "--lr", "3e-3", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([PTM, *args, "--out", str(tmp_path / "one")], capture_output=True, text=True, env=env)
    assert one.returncode == 0, one.stderr
    two = _torchrun([*args, "--out", str(tmp_path / "two")])
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("accuracy ") == 1 and "x 2 processes" in two.stdout  # rank 0 reports
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (a["world_size"], b["world_size"]) == (1, 2)
    assert json.loads((tmp_path / "two" / "config.json").read_text())["world_size"] == 2
    # Same global batches, gradients averaged across the processes: the same training, step by step.
    assert b["steps"] == a["steps"] and b["tokens_seen"] == a["tokens_seen"]
    assert max(abs(x - y) for x, y in zip(a["step_loss"], b["step_loss"], strict=True)) < 1e-4
    assert [h["accuracy"] for h in b["history"]] == [h["accuracy"] for h in a["history"]]
    assert b["accuracy"] >= 0.9
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


@pytest.mark.slow
def test_dp_sgd_on_two_gloo_processes_learns_like_one_and_accounts_for_the_global_batch(tmp_path):
    from ptm_dp.dpsgd import epsilon_for, make_dp_sgd

    data = _data(tmp_path / "d.tsv")
    common = ["train", "--model", "tiny-bert", "--data", str(data), "--privacy", "dp-sgd", "--trainable", "all",
              "--batch-size", "32", "--lr", "3e-3", "--quiet"]
    # Without noise (epsilon inf) the private path still Poisson-samples, clips per example and
    # sums gradients across processes: it learns as one process does.
    learn = [*common, "--epsilon", "inf", "--epochs", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([PTM, *learn, "--out", str(tmp_path / "one")], capture_output=True, text=True, env=env)
    assert one.returncode == 0, one.stderr
    two = _torchrun([*learn, "--out", str(tmp_path / "two")])
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert b["world_size"] == 2 and b["steps"] == a["steps"] and b["sample_rate"] == a["sample_rate"]
    assert a["accuracy"] >= 0.9 and abs(a["accuracy"] - b["accuracy"]) <= 0.1
    # With a budget, the two processes together are one mechanism: the global sample rate, the
    # noise planned for one process, and the accountant's epsilon within the target.
    private = _torchrun([*common, "--epsilon", "8", "--epochs", "1", "--out", str(tmp_path / "eps8")])
    assert private.returncode == 0, private.stderr[-3000:]
    c = json.loads((tmp_path / "eps8" / "metrics.json").read_text())
    plan = make_dp_sgd(epsilon=8)
    plan.plan(c["train_examples"], 32, 1)
    assert (c["sample_rate"], c["noise_multiplier"]) == (plan.sample_rate, plan.noise_multiplier)
    assert c["epsilon"] == pytest.approx(epsilon_for(c["noise_multiplier"], c["sample_rate"], c["steps"], c["delta"]))
    assert 7.0 < c["epsilon"] <= 8.0


def test_too_small_a_private_batch_per_process_is_refused_before_anything_is_written(ptm_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; checked before the processes meet
    out = tmp_path / "small"
    result = ptm_cli("train", "--model", "tiny-bert", "--data", str(_data(tmp_path / "d.tsv", 64)),
                     "--privacy", "dp-sgd", "--epsilon", "8", "--batch-size", "16", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == ("ptm: DP-SGD on 2 processes needs --batch-size 32 or more (16 per process): "
                             "an empty Poisson draw on one process would stall the others\n")
    assert not out.exists()
