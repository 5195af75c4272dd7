"""The core owns the run: one scope fires before/after/on-error once each, a failure is reported
by the unit it happened in and by the run, pretraining reports the same epochs and steps as
fine-tuning, and a plugin's ConfigError reaches the user as that error."""

from __future__ import annotations

import json

import pytest

from toolkit import hookimpl, pipeline
from toolkit.errors import ConfigError, PluginHookError

FAST = dict(epochs=2, batch_size=16, max_length=24, progress=False)


def _data(tmp_path, n=48):
    rows = ["text\tlabel"] + [f"the {w} film\t{'pos' if i % 2 else 'neg'}"
                              for i, w in enumerate(["great", "awful", "lovely", "dreadful"] * (n // 4))]
    (tmp_path / "d.tsv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "d.tsv")


class Recorder:
    def __init__(self):
        self.seen = []

    @hookimpl
    def ptm_before_run(self, run):
        self.seen.append(("before_run", run.command, (run.out_dir / "config.json").is_file() if run.out_dir else None))

    @hookimpl
    def ptm_after_run(self, run, metrics):
        self.seen.append(("after_run", run.command))

    @hookimpl
    def ptm_on_run_error(self, run, error):
        self.seen.append(("on_run_error", type(error).__name__))

    @hookimpl
    def ptm_before_epoch(self, epoch):
        self.seen.append(("before_epoch", epoch))

    @hookimpl
    def ptm_after_epoch(self, epoch, metrics):
        self.seen.append(("after_epoch", epoch, "train_loss" in metrics))

    @hookimpl
    def ptm_on_epoch_error(self, epoch, error):
        self.seen.append(("on_epoch_error", epoch))

    @hookimpl
    def ptm_after_step(self, step):
        self.seen.append(("after_step",))

    @hookimpl
    def ptm_on_step_error(self, step, error):
        self.seen.append(("on_step_error", step))

    @hookimpl
    def ptm_after_evaluate(self, split):
        self.seen.append(("after_evaluate", split))

    def names(self):
        return [s[0] for s in self.seen]


def test_a_training_run_fires_each_run_hook_once_after_its_folder_exists(ptm_manager, ptm_register, tmp_path):
    recorder = Recorder()
    ptm_register(recorder, name="recorder")
    pipeline.train(ptm_manager, model="tiny-bert", data=_data(tmp_path), out=tmp_path / "r", **FAST)
    names = recorder.names()
    assert names.count("before_run") == names.count("after_run") == 1 and "on_run_error" not in names
    assert recorder.seen[0] == ("before_run", "train", True)  # the folder and config.json exist
    assert [s for s in recorder.seen if s[0] == "after_epoch"] == [("after_epoch", 1, True), ("after_epoch", 2, True)]
    assert names.count("after_step") == 6 and names.count("after_evaluate") == 2
    assert names[-1] == "after_run"


def test_a_failed_step_is_reported_by_the_step_and_the_run_only(ptm_manager, ptm_register, tmp_path, monkeypatch):
    from ptm_bert.trainer import FineTuner

    recorder = Recorder()
    ptm_register(recorder, name="recorder")
    real = FineTuner._step

    def failing(self, setup, batch):
        if not hasattr(failing, "done"):
            failing.done = True
            return real(self, setup, batch)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(FineTuner, "_step", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        pipeline.train(ptm_manager, model="tiny-bert", data=_data(tmp_path), out=tmp_path / "r", **FAST)
    errors = [s for s in recorder.seen if s[0].startswith("on_")]
    assert errors == [("on_step_error", 2), ("on_run_error", "RuntimeError")]
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["status"] == "failed"


def test_pretraining_fires_the_epoch_and_step_hooks_fine_tuning_fires(ptm_manager, ptm_register, tmp_path):
    from ptm_bert.pretrain import pretrain

    recorder = Recorder()
    ptm_register(recorder, name="recorder")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the {w} cat sat on the mat number {i}" for i, w in
                                enumerate(["black", "white", "grey", "small"] * 10)) + "\n")
    metrics = pretrain(ptm_manager, corpus=str(corpus), model="tiny-bert", out=tmp_path / "p",
                       epochs=2, batch_size=8, max_length=16, progress=False, evaluations=2)
    names = recorder.names()
    assert recorder.seen[0] == ("before_run", "pretrain", True)
    assert [s[1] for s in recorder.seen if s[0] == "before_epoch"] == [1, 2]
    assert names.count("after_step") == len(metrics["step_loss"]) and names.count("after_evaluate") == 2
    assert names[-1] == "after_run"


def test_a_plugins_config_error_from_a_lifecycle_hook_is_that_error(ptm_manager, ptm_register, ptm_cli, tmp_path):
    class Guard:
        @hookimpl
        def ptm_before_run(self, run):
            if run.command == "train":
                raise ConfigError("this course allows at most 1 epoch; pass --epochs 1")

    ptm_register(Guard(), name="guard")
    with pytest.raises(ConfigError, match="at most 1 epoch") as caught:
        pipeline.train(ptm_manager, model="tiny-bert", data=_data(tmp_path), out=tmp_path / "r", **FAST)
    assert not isinstance(caught.value, PluginHookError)
    result = ptm_cli("train", "--model", "tiny-bert", "--data", _data(tmp_path), "--epochs", "2",
                     "--out", str(tmp_path / "c"), "--quiet")
    assert result.exit_code == 2
    assert result.output == "ptm: this course allows at most 1 epoch; pass --epochs 1\n"
