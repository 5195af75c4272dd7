"""Masked-language-model pretraining: a BERT learns from unlabelled text by filling in blanks.

The recipe of Devlin et al. (2019): 15% of the tokens are chosen; of those 80% become [MASK],
10% a random token and 10% stay, and the model is scored on predicting the original token at
the chosen places. transformers' ``DataCollatorForLanguageModeling`` does the choosing and
masking and ``BertForMaskedLM`` is the model; the loop is written out because it is what the
pretraining lesson explains.

The run folder holds ``model/`` (weights as safetensors, the tokenizer, a config that
``ptm train --model RUN_DIR`` fine-tunes with mean pooling, since an MLM-only BERT has no
trained [CLS] pooler), ``metrics.json`` (loss per step, held-out masked-token accuracy over
the run) and ``pretraining.png``.

The model to start from is built in ``mlm_model``, the loop and its held-out scoring live in
``pretrainer``; ``fill_mask`` shows what a pretrained model learnt and ``compare`` what
pretraining is worth.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.runs import recorded_ref

from ptm_bert.mlm_model import PRESETS, start_model
from ptm_bert.pretrain_config import as_config
from ptm_bert.pretrainer import Pretrainer


def pretraining_curves(metrics: dict[str, Any], path: Path) -> Path:
    """MLM loss per step (and held-out) on the left, held-out masked-token accuracy on the right."""
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    evals = metrics["evaluations"]
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    steps = metrics["step_loss"]
    left.plot(range(1, len(steps) + 1), steps, alpha=0.35, label="training step")
    left.plot([e["step"] for e in evals], [e["loss"] for e in evals], "o-", label="held-out")
    left.set(title="masked-LM loss", xlabel="step", ylabel="cross-entropy")
    left.legend()
    at = [e["step"] for e in evals]
    right.plot(at, [e["masked_accuracy"] for e in evals], "o-", label="model, at [MASK]")
    top = max(e["masked_accuracy"] for e in evals)
    if all("chosen_accuracy" in e for e in evals):
        right.plot(at, [e["chosen_accuracy"] for e in evals], "s--", label="model, all chosen places")
        top = max(top, *(e["chosen_accuracy"] for e in evals))
    if "unigram_masked_accuracy" in metrics:
        floor = metrics["unigram_masked_accuracy"]
        right.axhline(floor, color="grey", linestyle=":", label=f"always '{metrics['unigram_token']}', at [MASK]")
        top = max(top, floor)
    if "copy_chosen_accuracy" in metrics:
        copy = metrics["copy_chosen_accuracy"]
        right.axhline(copy, color="grey", linestyle="-.", label="copy the input, all chosen places")
        top = max(top, copy)
    if len(right.get_lines()) > 1:
        right.legend(fontsize="small")
    right.set(title="held-out masked-token accuracy", xlabel="step", ylim=(0, max(0.05, 1.15 * top)))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def pretrain(
    pm: Any,
    *,
    corpus: str = "reviews",
    model: str = "tiny-bert",
    out: str | Path,
    overwrite: bool = False,
    device: str = "auto",
    **options: Any,
) -> dict[str, Any]:
    """Pretrain ``model`` on ``corpus`` with masked language modelling; write a run folder."""
    from toolkit import __version__
    from toolkit.corpus import load_corpus
    from toolkit.lifecycle import run_scope

    config = as_config(options)
    config.check()  # before the corpus is read and a tokenizer trained on it
    if options.get("vocab_size") is not None and config.tokenizer != "train":
        raise ConfigError(
            f"--vocab-size {config.vocab_size} is given but --tokenizer is {config.tokenizer}, whose "
            "vocabulary is fixed; add --tokenizer train, or drop --vocab-size"
        )
    texts = load_corpus(pm, corpus).texts
    mlm, tokenizer, init = start_model(model, config, texts if config.tokenizer == "train" else ())
    config.check(int(mlm.config.max_position_embeddings))
    trainer = Pretrainer(mlm, tokenizer, device=device)
    trainer.split(texts, config)  # refuse a corpus too small before the folder exists
    record = {
        "command": "pretrain",
        "corpus": recorded_ref(corpus),  # a path absolute, so it reads the same from anywhere
        "model": recorded_ref(model) if model not in PRESETS and model != "minilm" else model,
        "init": init,
        "device": trainer.device,
        "hyper": asdict(config),
        "toolkit_version": __version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with run_scope("pretrain", record, hooks=pm.hooks, out=out, overwrite=overwrite, device=trainer.device) as scope:
        folder = scope.folder
        assert folder is not None
        metrics = trainer.fit(texts, config, run=scope.run)
        folder.save_model(trainer.save)
        metrics.update(corpus=corpus, model=model, init=init, device=trainer.device)
        pretraining_curves(metrics, folder.path / "pretraining.png")
        scope.result = metrics
    return {"status": "finished", **metrics}
