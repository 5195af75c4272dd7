"""Fine-tuning end to end, through the pipeline and the CLI, on tiny-bert (and once on MiniLM)."""

from __future__ import annotations

import json

import pytest

from toolkit import hookimpl
from toolkit.errors import ConfigError
from toolkit import pipeline
from toolkit.runs import RunFolder

FAST = dict(epochs=1, batch_size=32, max_length=32, progress=False)


def _learnable_file(tmp_path, n=240):
    """Two word families that decide the label: learnable by a tiny random BERT in seconds."""
    good = ["great", "lovely", "superb", "wonderful", "excellent", "delightful"]
    bad = ["awful", "dreadful", "boring", "terrible", "horrible", "dismal"]
    rows = ["text\tlabel"]
    for i in range(n):
        words = good if i % 2 else bad
        rows.append(f"the {words[i % 6]} film was {words[(i // 2) % 6]}\t{'pos' if i % 2 else 'neg'}")
    path = tmp_path / "toy.tsv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_tiny_bert_learns_far_above_chance_and_writes_a_finished_run(ptm_manager, tmp_path):
    data = _learnable_file(tmp_path)
    out = tmp_path / "run"
    metrics = pipeline.train(
        ptm_manager, model="tiny-bert", data=str(data), out=out, **{**FAST, "epochs": 4, "lr": 2e-3}
    )
    assert metrics["accuracy"] >= 0.9
    assert sorted(p.name for p in out.iterdir()) == [
        "checksums.json", "config.json", "confusion.png", "curves.png", "metrics.json", "model"]
    # Shared like the PNGs: the files take the umask (0644 under the usual 022), not mkstemp's 0600.
    import os
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "metrics.json", "checksums.json", "curves.png"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "finished"
    assert [h["epoch"] for h in saved["history"]] == [1, 2, 3, 4]
    for key in ("examples_per_second", "tokens_seen", "train_flops_estimate", "train_seconds"):
        assert saved[key] > 0, key
    # everything trained, embeddings included: forward, activation and weight gradients alike (6 N)
    per_token = saved["train_flops_per_token"]
    assert per_token["forward"] == per_token["activation_gradients"] == per_token["weight_gradients"]
    assert saved["train_flops_estimate"] == sum(per_token.values()) * saved["tokens_seen"]
    assert (out / "model" / "model.safetensors").is_file()
    assert not list((out / "model").glob("*.bin"))
    assert json.loads((out / "model" / "config.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    scores = pipeline.evaluate(ptm_manager, out, data=str(data))
    assert scores["accuracy"] >= 0.9 and scores["n"] == 240
    [row] = pipeline.predict(ptm_manager, out, ["the superb film was lovely"])
    assert row["label"] == "pos" and row["probability"] > 0.5


@pytest.mark.slow
def test_the_same_seed_repeats_a_run_exactly(ptm_cli, tmp_path):
    # MiniLM: pretrained weights with a classification head drawn at random when it loads,
    # the draw the seed has to cover (tiny-bert is built from a fixed seed of its own).
    def train(name, seed):
        result = ptm_cli("train", "--model", "minilm", "--data", "reviews", "--limit", "48", "--epochs", "1",
                         "--batch-size", "16", "--max-length", "32", "--seed", str(seed),
                         "--out", str(tmp_path / name), "--quiet")
        assert result.exit_code == 0, result.output
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        checksums = json.loads((tmp_path / name / "checksums.json").read_text())
        return metrics, checksums

    first, first_weights = train("a", 3)
    second, second_weights = train("b", 3)
    assert first["step_loss"] == second["step_loss"]
    assert first["final"] == second["final"] and first["history"] == second["history"]
    assert first_weights == second_weights
    other, _ = train("c", 4)
    assert other["step_loss"][0] != first["step_loss"][0]


def test_existing_run_folder_is_refused_and_left_untouched(ptm_cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = ptm_cli("train", "--model", "tiny-bert", "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"ptm: run folder {out} already exists and is not empty; choose another --out or pass "
        "--overwrite to replace it"
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_train_evaluate_predict(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path))
    out = str(tmp_path / "run")
    trained = ptm_cli("train", "--model", "tiny-bert", "--data", data, "--epochs", "3",
                      "--lr", "2e-3", "--max-length", "32", "--out", out, "--quiet")
    assert trained.exit_code == 0, trained.output
    assert trained.output.startswith("accuracy ") and f"run folder: {out}" in trained.output
    scored = ptm_cli("evaluate", out, "--data", data, "--json")
    assert scored.exit_code == 0, scored.output
    assert set(json.loads(scored.output)) >= {"accuracy", "f1", "n"}
    predicted = ptm_cli("predict", out, "the dreadful film was awful", "--json")
    rows = json.loads(predicted.output)
    assert rows[0]["label"] == "neg" and set(rows[0]["probabilities"]) == {"neg", "pos"}
    text = ptm_cli("predict", out, "the lovely film was great").output
    assert text.startswith("pos\t")


def test_lifecycle_hooks_fire_for_run_epoch_step_and_evaluation(ptm_manager, ptm_register, tmp_path):
    events = []

    class Recorder:
        @hookimpl
        def ptm_before_run(self, run):
            events.append(("before_run", run.command))

        @hookimpl
        def ptm_after_step(self, step, loss):
            events.append(("after_step", step))

        @hookimpl
        def ptm_after_epoch(self, epoch, metrics):
            events.append(("after_epoch", epoch, "accuracy" in metrics))

        @hookimpl
        def ptm_after_evaluate(self, split, metrics):
            events.append(("after_evaluate", split, metrics["n"]))

        @hookimpl
        def ptm_after_run(self, run, metrics):
            events.append(("after_run", run.out_dir.name))

    ptm_register(Recorder())
    data = str(_learnable_file(tmp_path, n=40))
    pipeline.train(ptm_manager, model="tiny-bert", data=data, out=tmp_path / "r", **{**FAST, "batch_size": 16})
    assert events == [
        ("before_run", "train"),
        ("after_step", 1),
        ("after_step", 2),
        ("after_step", 3),
        ("after_evaluate", "test", 4),
        ("after_epoch", 1, True),
        ("after_run", "r"),
    ]


def test_a_run_that_fails_midway_never_looks_finished(ptm_manager, ptm_register, tmp_path):
    class Crash:
        @hookimpl
        def ptm_after_step(self, step):
            if step == 2:
                raise RuntimeError("disk full")

    ptm_register(Crash(), name="crash")
    out = tmp_path / "r"
    with pytest.raises(Exception, match="plugin 'crash' failed in hook ptm_after_step"):
        pipeline.train(ptm_manager, model="tiny-bert", data=str(_learnable_file(tmp_path, 64)),
                       out=out, **{**FAST, "batch_size": 8})
    assert RunFolder(out).status() == "failed"
    assert not (out / "model").exists()
    with pytest.raises(ConfigError, match="is not a finished run"):
        pipeline.evaluate(ptm_manager, out, data="reviews")


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--epochs", "0", "--epochs must be positive"),
        ("--batch-size", "-4", "--batch-size must be positive"),
        ("--lr", "0", "--lr must be positive"),
        ("--max-length", "4096", "--max-length 4096 exceeds the model's limit of 512 tokens"),
        ("--device", "cuda", "--device cuda asked for, but torch sees no CUDA GPU"),
    ],
)
def test_bad_hyper_parameters_get_one_line_and_exit_2(ptm_cli, tmp_path, option, value, message):
    import torch

    if option == "--device" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "r"
    result = ptm_cli("train", "--model", "tiny-bert", option, value, "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert result.output.startswith(f"ptm: {message}") and result.output.count("\n") == 1
    assert not out.exists()  # refused before anything was written


def test_unknown_model_offline_is_a_clear_error(ptm_cli, tmp_path):
    result = ptm_cli("train", "--model", "minlm", "--out", str(tmp_path / "r"), "--quiet")
    assert result.exit_code == 2
    assert "model 'minlm' is not a registered model, a folder, or a loadable Hugging Face id" in result.output
    assert "Did you mean 'minilm'?" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_minilm_on_reviews_is_far_above_chance(ptm_manager, tmp_path):
    metrics = pipeline.train(
        ptm_manager, model="minilm", data="reviews", out=tmp_path / "r",
        epochs=1, batch_size=8, progress=False,
    )
    assert metrics["accuracy"] >= 0.75
    assert metrics["final"]["n"] == 200


def test_error_hooks_fire_from_step_to_run(ptm_manager, ptm_register, tmp_path):
    seen = []

    class Watcher:
        @hookimpl
        def ptm_before_step(self, step):
            if step == 2:
                raise ValueError("bad batch")

        @hookimpl
        def ptm_on_epoch_error(self, epoch, error):
            seen.append(("epoch", epoch, type(error).__name__))

        @hookimpl
        def ptm_on_run_error(self, run, error):
            seen.append(("run", run.command, type(error).__name__))

    ptm_register(Watcher(), name="watcher")
    with pytest.raises(Exception, match="plugin 'watcher' failed in hook ptm_before_step"):
        pipeline.train(ptm_manager, model="tiny-bert", data=str(_learnable_file(tmp_path, 64)),
                       out=tmp_path / "r", **{**FAST, "batch_size": 8})
    assert seen == [("epoch", 1, "PluginHookError"), ("run", "train", "PluginHookError")]


def test_mean_pooled_classifier_ignores_padding_and_survives_save_and_load(tmp_path):
    """MiniLM's default head pools the mean of its token vectors: padding must not move it,
    and a saved run must come back with the same pooling and the same predictions."""
    import torch
    from transformers import BertConfig

    from ptm_bert.models import TINY_BERT, load_pretrained
    from ptm_bert.pooling import BertMeanPooledClassifier

    torch.manual_seed(0)
    model = BertMeanPooledClassifier(BertConfig(vocab_size=200, **TINY_BERT, num_labels=2)).eval()
    alone = torch.tensor([[2, 17, 45, 3]])
    padded = torch.tensor([[2, 17, 45, 3, 0, 0], [2, 9, 9, 9, 9, 3]])
    mask = (padded != 0).long()
    with torch.no_grad():
        one = model(input_ids=alone).logits[0]
        batch = model(input_ids=padded, attention_mask=mask).logits[0]
    assert torch.allclose(one, batch, atol=1e-5)
    assert model.bert.pooler is None

    model.save_pretrained(tmp_path / "m", safe_serialization=True)
    from ptm_bert.models import minilm_path
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(tmp_path / "m")
    again = load_pretrained(tmp_path / "m").model.eval()
    assert type(again) is BertMeanPooledClassifier
    with torch.no_grad():
        assert torch.allclose(again(input_ids=alone).logits[0], one, atol=1e-6)


@pytest.mark.parametrize("how, forward, activation, weight", [
    # tiny-bert's linear weights: 2 layers of 4 x 32 x 32 (attention) + 2 x 32 x 64 (feed-forward)
    # = 16,384, the pooler 1,024 and the classifier 64: N = 17,472.
    ("all", 2 * 17472, 2 * 17472, 2 * 17472),
    # frozen encoder: the pooler's input needs no gradient, the classifier's does (the pooler trains)
    ("head", 2 * 17472, 2 * 64, 2 * (1024 + 64)),
    # layer 1's query, key and value read layer 0's output, which needs no gradient
    ("top1", 2 * 17472, 2 * (17472 - 8192 - 3 * 1024), 2 * (8192 + 1024 + 64)),
    # rank 8 on query and value: 4 adapters of 2 x 8 x 32; in layer 0 only lora_B's input (A x)
    # needs a gradient, not query's, key's, value's or lora_A's
    ("lora", 2 * (17472 + 2048), 2 * (17472 + 2048 - 3 * 1024 - 2 * 256), 2 * (2048 + 1024 + 64)),
])
def test_training_flops_count_the_backward_pass_only_where_it_is_needed(how, forward, activation, weight):
    import torch

    from ptm_bert import trainable
    from ptm_bert.models import load_tiny_bert
    from ptm_bert.trainer import flops_per_token

    model = trainable.apply(load_tiny_bert().model, how)
    batch = {"input_ids": torch.tensor([[101, 2000, 102]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
    state, mode = torch.get_rng_state(), model.training
    assert flops_per_token(model, batch) == {
        "forward": forward, "activation_gradients": activation, "weight_gradients": weight}
    assert torch.equal(torch.get_rng_state(), state) and model.training == mode  # the run's randomness is untouched


def test_bf16_is_refused_where_the_device_cannot_do_it(monkeypatch):
    from ptm_bert import trainer
    from ptm_bert.models import load_tiny_bert

    monkeypatch.setattr(trainer, "bf16_supported", lambda device: False)
    fitter = trainer.FineTuner(load_tiny_bert(), device="cpu")
    with pytest.raises(ConfigError, match="precision bf16: this cpu has no native bf16 arithmetic"):
        fitter.check({"precision": "bf16"})
    with pytest.raises(ConfigError, match="unknown precision 'fp8'; use auto, fp32, bf16"):
        fitter.check({"precision": "fp8"})


def test_scoring_only_after_the_last_epoch_gives_the_same_run_sooner(ptm_manager, tmp_path):
    # A lesson that reads only the end result skips the per-epoch held-out scoring; the weights
    # and the final scores are those of the run that scored every epoch.
    data = str(_learnable_file(tmp_path))
    settings = {**FAST, "epochs": 3, "lr": 2e-3, "seed": 5}
    every = pipeline.train(ptm_manager, model="tiny-bert", data=data, out=tmp_path / "every", **settings)
    last = pipeline.train(ptm_manager, model="tiny-bert", data=data, out=tmp_path / "last",
                          eval_every_epoch=False, **settings)
    assert last["step_loss"] == every["step_loss"]
    assert (last["accuracy"], last["f1"]) == (every["accuracy"], every["f1"])
    assert ["accuracy" in h for h in last["history"]] == [False, False, True]
    assert last["history"][-1]["accuracy"] == every["history"][-1]["accuracy"]
    assert (tmp_path / "last" / "curves.png").read_bytes()[:4] == b"\x89PNG"
