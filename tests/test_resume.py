"""Ctrl-C during training, and `ptm train --resume`: a stopped run keeps its last epoch and
finishes exactly where an uninterrupted run with the same seed does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import learnable_tsv, make_entry_point_plugin

PTM = str(Path(sys.executable).parent / "ptm")

SLOW_PLUGIN = """
import os, time
from toolkit import hookimpl

@hookimpl
def ptm_after_step(run, step, batch, loss):
    # Slows training down so the test's Ctrl-C lands in the middle of an epoch.
    time.sleep(float(os.environ.get("TP_SLOW_STEP", "0")))
"""


def _data(path: Path, n: int = 64) -> Path:
    return learnable_tsv(path, n)


def _env(site: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "PTM_STRICT_PLUGINS": "1", "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture
def slow_site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    return make_entry_point_plugin(site, "tp_slow_steps", SLOW_PLUGIN)


@pytest.mark.slow
@pytest.mark.parametrize("private", [False, True], ids=["plain", "dp-sgd"])
def test_ctrl_c_keeps_the_last_epoch_and_resume_reaches_the_uninterrupted_result(tmp_path, slow_site, private):
    data = _data(tmp_path / "data.tsv")
    args = ["train", "--model", "tiny-bert", "--data", str(data), "--epochs", "2", "--batch-size", "8",
            "--lr", "1e-3", "--quiet"]
    if private:
        # top1: the frozen bottom is cached (ptm_bert.frozen), and a resumed run rebuilds the cache
        args += ["--privacy", "dp-sgd", "--epsilon", "8", "--trainable", "top1"]
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    done = subprocess.run([PTM, *args, "--out", str(whole)], env=_env(slow_site), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    proc = subprocess.Popen([PTM, *args, "--out", str(stopped)], env=_env(slow_site, TP_SLOW_STEP="0.15"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = stopped / "checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a few steps into epoch 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopping after this step" in err
    assert f"interrupted; {stopped} keeps the checkpoint of epoch 1: continue with ptm train --resume" in err
    assert "Traceback" not in err
    metrics = json.loads((stopped / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert json.loads(state.read_text())["epoch"] == 1 and not (stopped / "model").exists()
    assert not list(stopped.glob("checkpoint/*.bin")) and (stopped / "checkpoint" / "model.safetensors").is_file()

    resumed = subprocess.run([PTM, "train", "--resume", str(stopped), "--quiet"], env=_env(slow_site),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    first = json.loads((whole / "metrics.json").read_text())
    second = json.loads((stopped / "metrics.json").read_text())
    assert second["status"] == "finished" and not (stopped / "checkpoint").exists()
    assert second["steps"] == first["steps"]
    assert second["step_loss"] == pytest.approx(first["step_loss"], abs=1e-6)
    for a, b in zip(first["history"], second["history"], strict=True):
        assert b == pytest.approx(a, abs=1e-6)
    if private:
        assert first["frozen_cache"]["frozen_layers"] == second["frozen_cache"]["frozen_layers"] == 1
        assert second["epsilon"] == pytest.approx(first["epsilon"], rel=1e-9)
        assert second["epsilon"] <= 8.0
    assert json.loads((stopped / "config.json").read_text())["resumed"]


def test_resume_refuses_what_it_cannot_continue(ptm_cli, tmp_path):
    finished = tmp_path / "done"
    assert ptm_cli("train", "--model", "tiny-bert", "--data", str(_data(tmp_path / "d.tsv", 24)),
                   "--quiet", "--out", str(finished)).exit_code == 0
    assert not (finished / "checkpoint").exists()
    cases = {
        (str(finished),): "has finished; there is nothing to resume",
        (str(tmp_path / "nowhere"),): "does not exist",
        (str(finished), "--epochs", "2"): "--resume takes the run's own settings; drop --epochs",
    }
    for extra, message in cases.items():
        result = ptm_cli("train", "--resume", *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output
    early = tmp_path / "early"
    early.mkdir()
    (early / "config.json").write_text(json.dumps({"command": "train"}))
    (early / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    result = ptm_cli("train", "--resume", str(early))
    assert result.exit_code == 2 and "stopped before its first epoch ended" in result.output
    no_out = ptm_cli("train", "--model", "tiny-bert")
    assert no_out.exit_code == 2 and "give --out RUN_DIR" in no_out.output
