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

Held-out accuracy is scored twice: at the ``[MASK]``ed places (``masked_accuracy``: the input
shows nothing of the answer) and at every chosen place (``chosen_accuracy``: also the 10% left
unchanged, where copying the input is right). Two baselines stand beside them: always the
commonest training token (the unigram floor) and copying the input token (right on the
unchanged tenth of the chosen places, never at a ``[MASK]``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from toolkit.context import RunContext
from toolkit.errors import ConfigError
from toolkit.runs import json_kind, recorded_ref

from ptm_bert.models import TINY_BERT, minilm_path, verified_minilm_path

# BERT-mini's shape (Turc et al. 2019: 4 layers, hidden 256): small enough to pretrain on two
# CPU cores in minutes, large enough to learn something a fine-tuned classifier can use.
MINI_BERT = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "max_position_embeddings": 512,
}
PRESETS = {"tiny-bert": TINY_BERT, "mini-bert": MINI_BERT}
TOKENIZERS = ("bert-uncased", "train")
# Documents held out to measure the masked-token accuracy, at most.
MAX_HELD_OUT = 2000
# A small held-out set is masked up to this many times (with different masks), so that the
# accuracy rests on more places; never more than MAX_HELD_OUT rows in all.
HELD_OUT_MASKINGS = 4
MIN_DOCUMENTS = 20


@dataclass
class PretrainConfig:
    """Hyper-parameters of one pretraining run (``steps`` wins over ``epochs``; 1 epoch if neither)."""

    steps: int | None = None
    epochs: int | None = None
    mlm_probability: float = 0.15
    max_length: int = 64
    # Measured on SST-2 phrases (NOTES.md, session 4): at batch 32 a small BERT stayed on the
    # unigram plateau (held-out loss ~7.0, the same guess for every [MASK]) for 4,000 steps;
    # at batch 128 it left it within a few hundred. Small BERTs also take a higher rate than
    # BERT-base's 1e-4 (Turc et al. 2019).
    batch_size: int = 128
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 42
    tokenizer: str = "bert-uncased"
    vocab_size: int = 8000
    held_out: float = 0.05
    evaluations: int = 10
    # Dropout while pretraining; the saved config keeps the model's own for fine-tuning. A
    # short budget that sees most text about once does not overfit, and without dropout it
    # learns faster (Geiping & Goldstein 2022, "Cramming").
    dropout: float = 0.0
    progress: bool = True

    def check(self, max_positions: int | None = None) -> None:
        """Refuse values out of range; ``max_positions`` (the model's limit, once it is built)
        bounds ``max_length``."""
        for name in ("steps", "epochs", "max_length", "batch_size", "vocab_size", "evaluations"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("give --steps or --epochs, not both")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"--mlm-probability must be between 0 and 1, got {self.mlm_probability}; BERT uses 0.15")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}; try 1e-3")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.held_out < 1:
            raise ConfigError(f"held_out must be a share between 0 and 1, got {self.held_out}")
        if self.max_length < 8:
            raise ConfigError(f"--max-length {self.max_length} is too short to mask anything; try 64")
        if max_positions is not None and self.max_length > max_positions:
            raise ConfigError(f"--max-length {self.max_length} exceeds the model's limit of {max_positions} tokens")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"--tokenizer must be one of {', '.join(TOKENIZERS)}, got '{self.tokenizer}'")


def as_config(options: dict[str, Any]) -> PretrainConfig:
    """A :class:`PretrainConfig` from options; ``None`` means "the default"."""
    from ptm_bert.trainer import config_from

    return config_from(PretrainConfig, {k: v for k, v in options.items() if v is not None}, "pretraining")


# -- the model to start from -----------------------------------------------------------------


def start_model(ref: str, config: PretrainConfig, texts: Sequence[str]) -> tuple[Any, Any, str]:
    """(BertForMaskedLM, tokenizer, how it starts) for ``--model``.

    ``tiny-bert``, ``mini-bert`` or a BERT ``config.json`` start from random weights (with
    MiniLM's uncased vocabulary, or a WordPiece vocabulary trained on ``texts``). A model
    folder, a ``ptm`` run folder, ``minilm`` or a hub id continue pretraining from their
    weights with their own tokenizer (domain-adaptive pretraining).
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from ptm_bert.models import _quiet_transformers, model_folder, refused_remote_code, safe_source

    _quiet_transformers()
    path = Path(ref).expanduser()
    if ref in PRESETS or path.suffix == ".json":
        if ref in PRESETS:
            shape = dict(PRESETS[ref])
        else:
            shape = read_model_config(path)
        tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()), trust_remote_code=False)
        if config.tokenizer == "train":
            # A WordPiece vocabulary learnt from the corpus by the `tokenizers` library, with
            # BERT's uncased normalisation and special tokens kept.
            tokenizer = tokenizer.train_new_from_iterator(iter(texts), vocab_size=config.vocab_size)
            check_vocabulary(tokenizer, config.vocab_size)
        shape.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
        shape.pop("architectures", None)
        torch.manual_seed(config.seed)
        try:
            bert = BertConfig(**shape)
            return BertForMaskedLM(bert), tokenizer, f"random weights ({ref})"
        except Exception as error:  # noqa: BLE001 - transformers' checks of the file's fields, of several types
            raise ConfigError(
                f"model config {path} does not describe a BERT ({_one_line(error)}); "
                "fix the file, or start from tiny-bert"
            ) from None
    if config.tokenizer == "train":
        raise ConfigError(
            "--tokenizer train needs a model built from a config (tiny-bert, mini-bert or a "
            f"config.json); '{ref}' has learnt weights for its own vocabulary"
        )
    source = str(verified_minilm_path()) if ref == "minilm" else model_folder(ref)
    try:
        source = safe_source(source)
        model = BertForMaskedLM.from_pretrained(source, use_safetensors=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except ValueError as error:
        raise refused_remote_code(error, ref) or error from None
    except OSError as error:
        raise ConfigError(
            f"model '{ref}' is not tiny-bert, mini-bert, a config.json, a model folder or a "
            f"loadable Hugging Face id: {str(error).splitlines()[0]}"
        ) from None
    return model, tokenizer, f"continued from {ref}"


def read_model_config(path: Path) -> dict[str, Any]:
    """The fields of a BERT ``config.json`` given as ``--model``, refused in one line unless
    the file is a JSON object."""
    import json

    if not path.is_file():
        raise ConfigError(f"model config {path} does not exist; give a BERT config.json or tiny-bert")
    try:
        shape = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"model config {path} is not valid JSON ({_one_line(error)}); fix the file, or start from tiny-bert"
        ) from None
    if not isinstance(shape, dict):
        raise ConfigError(
            f"model config {path} holds a JSON {json_kind(shape)}, not an object of BERT settings; "
            'write e.g. {"hidden_size": 64, "num_hidden_layers": 2}, or start from tiny-bert'
        )
    return shape


def check_vocabulary(tokenizer: Any, vocab_size: int) -> None:
    """Refuse a ``--vocab-size`` the trained vocabulary outgrew.

    The WordPiece trainer of the ``tokenizers`` library accepts any size, but always keeps the
    special tokens and every character of the corpus, alone and as a ``##`` continuation (its
    alphabet), and only then adds merged pieces up to the size: below that floor it silently
    returns a larger vocabulary than the one asked for.
    """
    if len(tokenizer) > vocab_size:
        raise ConfigError(
            f"--vocab-size {vocab_size} is below this corpus's minimum of {len(tokenizer)} (BERT's "
            f"{len(tokenizer.all_special_tokens)} special tokens, and every character of the corpus alone "
            f"and as a ##continuation, which the WordPiece trainer always keeps); give --vocab-size "
            f"{len(tokenizer)} or more (the default is {PretrainConfig.vocab_size})"
        )


def _one_line(error: BaseException) -> str:
    """An error's text on one line (transformers' field checks span two)."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return (text or type(error).__name__)[:200]


# -- the training loop -------------------------------------------------------------------------


def mlm_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Cross-entropy at the masked places, with the vocabulary projection computed only there.

    ``BertForMaskedLM(**batch).loss`` projects every token onto the vocabulary and then ignores
    the 85% that were not chosen; projecting only the chosen ones gives the same loss for a
    fraction of the work (benchmarks/pretrain.py measures it). Returns (loss, logits, labels)
    of the chosen tokens.
    """
    import torch

    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "special_tokens_mask")}
    hidden = model.bert(**inputs).last_hidden_state
    chosen = labels != -100
    logits = model.cls(hidden[chosen])
    targets = labels[chosen]
    return torch.nn.functional.cross_entropy(logits.float(), targets), logits, targets


def set_dropout(model: Any, p: float) -> list[tuple[Any, float]]:
    """Set every dropout layer's rate to ``p``; return (layer, old rate) pairs to restore."""
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    saved = [(m, m.p) for m in layers]
    for m in layers:
        m.p = p
    return saved


class Pretrainer:
    """Pretrains a ``BertForMaskedLM`` on a list of texts and reports held-out accuracy."""

    def __init__(self, model: Any, tokenizer: Any, *, device: str = "auto") -> None:
        from ptm_bert.trainer import pick_device

        self.model = model
        self.tokenizer = tokenizer
        self.device = pick_device(device)
        self.model.to(self.device)

    def split(self, texts: Sequence[str], config: PretrainConfig) -> tuple[list[str], list[str]]:
        """Training documents and a seeded held-out share of them (never trained on)."""
        if len(texts) < MIN_DOCUMENTS:
            raise ConfigError(
                f"the corpus has {len(texts)} documents; pretraining needs at least {MIN_DOCUMENTS} "
                "(some are held out to measure it)"
            )
        order = list(range(len(texts)))
        random.Random(config.seed).shuffle(order)
        cut = min(MAX_HELD_OUT, max(2, round(config.held_out * len(texts))))
        return [texts[i] for i in order[cut:]], [texts[i] for i in order[:cut]]

    def features(self, texts: Sequence[str], max_length: int) -> list[dict[str, Any]]:
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=max_length, return_special_tokens_mask=True
        )
        return [{k: v[i] for k, v in encoded.items()} for i in range(len(texts))]

    def collator(self, config: PretrainConfig, seed: int) -> Any:
        from transformers import DataCollatorForLanguageModeling

        return DataCollatorForLanguageModeling(
            self.tokenizer, mlm_probability=config.mlm_probability, seed=seed
        )

    def held_out_batches(self, texts: Sequence[str], config: PretrainConfig) -> list[dict[str, Any]]:
        """The held-out documents, masked once and for all so that every evaluation asks the same
        questions; a small set is masked a few times over (``HELD_OUT_MASKINGS``). Each batch's
        ``document`` says which held-out document each row is."""
        import torch

        features = self.features(texts, config.max_length)
        maskings = max(1, min(HELD_OUT_MASKINGS, MAX_HELD_OUT // max(len(features), 1)))
        rows = sorted(((i, f) for i, f in enumerate(features) for _ in range(maskings)),
                      key=lambda row: len(row[1]["input_ids"]))
        collate = self.collator(config, seed=config.seed + 1)
        size = 128
        batches = []
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            batch = collate([f for _, f in chunk])
            batch["document"] = torch.tensor([i for i, _ in chunk])
            batches.append(batch)
        return batches

    def evaluate(self, batches: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Loss, and accuracy at the [MASK]ed and at all chosen places, on the held-out documents."""
        scores, _ = self._score(batches)
        return scores

    def _score(self, batches: Sequence[dict[str, Any]], guess: int = -1) -> tuple[dict[str, float], list[tuple[int, ...]]]:
        """:meth:`evaluate`'s scores and, per held-out document, (hits at [MASK]ed places, hits
        of always answering token ``guess`` there, [MASK]ed places), for a bootstrap over documents."""
        import torch

        self.model.eval()
        mask_id = self.tokenizer.mask_token_id
        total_loss, chosen_hits, chosen, masked_hits, masked = 0.0, 0, 0, 0, 0
        documents: dict[Any, list[int]] = {}
        with torch.inference_mode():
            for batch in batches:
                # rows of one document (masked several times) are pooled; without ids, each row is its own
                rows = (batch["document"].tolist() if "document" in batch
                        else [(id(batch), j) for j in range(len(batch["labels"]))])
                batch = {k: v.to(self.device) for k, v in batch.items() if k != "document"}
                labels = batch["labels"]
                loss, logits, targets = mlm_loss(self.model, batch)
                n = int(targets.numel())
                if not n:
                    continue
                total_loss += float(loss) * n
                # logits and targets are the chosen places in row-major order; put them back
                hit = torch.zeros_like(labels, dtype=torch.bool)
                hit[labels != -100] = logits.argmax(-1) == targets
                at_mask = (labels != -100) & (batch["input_ids"] == mask_id)
                chosen_hits += int(hit.sum())
                chosen += n
                masked_hits += int((hit & at_mask).sum())
                masked += int(at_mask.sum())
                guessed = labels == guess
                for row, counts in zip(rows, zip((hit & at_mask).sum(1).tolist(), (guessed & at_mask).sum(1).tolist(),
                                                 at_mask.sum(1).tolist())):
                    documents[row] = [a + b for a, b in zip(documents.get(row, [0, 0, 0]), counts)]
        self.model.train()
        mean = total_loss / max(chosen, 1)
        scores = {
            "masked_accuracy": masked_hits / max(masked, 1),
            "chosen_accuracy": chosen_hits / max(chosen, 1),
            "loss": mean,
            "perplexity": math.exp(min(mean, 50.0)),
            "masked_tokens": masked,
            "chosen_tokens": chosen,
        }
        return scores, [tuple(counts) for counts in documents.values()]

    def baselines(self, features: Sequence[dict[str, Any]], batches: Sequence[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """The floors a model must rise above, on the held-out places it is scored on, and the
        id of the commonest training token.

        - unigram: always guessing the commonest training token. A model stuck on the unigram
          plateau (the same guess for every [MASK]) scores exactly this.
        - copy: answering the token the input shows. At a [MASK] that is never right; at all
          chosen places it is right on the 10% left unchanged (and on the rare random token
          that happens to be the original): about 0.10.
        """
        from collections import Counter

        counts = Counter(
            token for f in features
            for token, special in zip(f["input_ids"], f["special_tokens_mask"]) if not special
        )
        guess = counts.most_common(1)[0][0] if counts else -1
        mask_id = self.tokenizer.mask_token_id
        unigram = {"masked": [0, 0], "chosen": [0, 0]}
        copy = {"masked": [0, 0], "chosen": [0, 0]}
        for batch in batches:
            labels, inputs = batch["labels"], batch["input_ids"]
            chosen = labels != -100
            for name, where in (("masked", chosen & (inputs == mask_id)), ("chosen", chosen)):
                unigram[name][0] += int((labels[where] == guess).sum())
                copy[name][0] += int((labels[where] == inputs[where]).sum())
                unigram[name][1] += int(where.sum())
                copy[name][1] += int(where.sum())
        return guess, {
            "unigram_token": self.tokenizer.convert_ids_to_tokens(guess) if guess >= 0 else "",
            "unigram_masked_accuracy": unigram["masked"][0] / max(unigram["masked"][1], 1),
            "unigram_chosen_accuracy": unigram["chosen"][0] / max(unigram["chosen"][1], 1),
            "copy_masked_accuracy": copy["masked"][0] / max(copy["masked"][1], 1),
            "copy_chosen_accuracy": copy["chosen"][0] / max(copy["chosen"][1], 1),
        }

    def fit(
        self, texts: Sequence[str], config: PretrainConfig, *, run: RunContext | None = None, hooks: Any = None
    ) -> dict[str, Any]:
        """Pretrain; return the metrics (loss per step, held-out evaluations, cost)."""
        import torch
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup, set_seed

        from ptm_bert.trainer import LengthGroupedBatches
        from toolkit.progress import bar_options

        run = run or RunContext("pretrain")
        set_seed(config.seed)
        saved_dropout = set_dropout(self.model, config.dropout)
        train_texts, held_texts = self.split(texts, config)
        features = self.features(train_texts, config.max_length)
        held_out = self.held_out_batches(held_texts, config)
        guess, floors = self.baselines(features, held_out)
        collate = self.collator(config, seed=config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        batches = LengthGroupedBatches([len(f["input_ids"]) for f in features], config.batch_size, generator)
        per_epoch = len(batches)
        total = config.steps or (config.epochs or 1) * per_epoch
        every = max(1, math.ceil(total / config.evaluations))
        model = self.model
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
        )
        scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * total), total)
        run.model, run.tokenizer, run.optimizer = model, self.tokenizer, optimizer
        dense = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n and "cls." not in n)
        evaluations = [{"step": 0, **self.evaluate(held_out)}]
        step_loss: list[float] = []
        tokens, step, train_seconds = 0, 0, 0.0
        started = time.perf_counter()
        bar = tqdm(total=total, desc="pretrain", unit="step", **bar_options(config.progress))
        model.train()
        while step < total:
            for indices in batches:
                batch = collate([features[i] for i in indices])
                if not bool((batch["labels"] != -100).any()):
                    continue  # nothing was chosen in this batch of very short texts
                step += 1
                if hooks:
                    hooks.before_step(run, step, batch)
                tick = time.perf_counter()
                try:
                    batch = {k: v.to(self.device) for k, v in batch.items()}
                    loss, _, _ = mlm_loss(model, batch)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                except Exception as error:
                    if hooks:
                        hooks.on_step_error(run, step, batch, error)
                    raise
                train_seconds += time.perf_counter() - tick
                value = loss.item()
                step_loss.append(value)
                tokens += int(batch["attention_mask"].sum())
                bar.update(1)
                bar.set_postfix({"loss": f"{value:.3f}", "held-out masked acc": f"{evaluations[-1]['masked_accuracy']:.3f}"})
                if hooks:
                    hooks.after_step(run, step, batch, value)
                if step % every == 0 or step == total:
                    evaluations.append({"step": step, "epoch": round(step / per_epoch, 3), **self.evaluate(held_out)})
                if step == total:
                    break
        bar.close()
        for module, p in saved_dropout:
            module.p = p
        first, last = evaluations[0], evaluations[-1]
        _, documents = self._score(held_out, guess)  # the last evaluation, per document, for its interval
        return {
            "step_loss": step_loss,
            "evaluations": evaluations,
            "masked_accuracy": last["masked_accuracy"],
            "chosen_accuracy": last["chosen_accuracy"],
            "held_out_loss": last["loss"],
            "perplexity": last["perplexity"],
            "initial_masked_accuracy": first["masked_accuracy"],
            "initial_chosen_accuracy": first["chosen_accuracy"],
            **floors,
            "masked_over_unigram_interval": over_unigram_interval(documents, seed=config.seed),
            "held_out_maskings": sum(len(b["document"]) for b in held_out) // len(held_texts),
            "held_out_masked_tokens": last["masked_tokens"],
            "held_out_chosen_tokens": last["chosen_tokens"],
            "initial_held_out_loss": first["loss"],
            "steps": step,
            "epochs": round(step / per_epoch, 3),
            "train_documents": len(train_texts),
            "held_out_documents": len(held_texts),
            "tokens_seen": tokens,
            "train_flops_estimate": 6 * dense * tokens,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - started,
            "tokens_per_second": tokens / train_seconds if train_seconds else 0.0,
            "parameters": sum(p.numel() for p in model.parameters()),
            "vocab_size": int(model.config.vocab_size),
            "config": asdict(config),
        }

    def save(self, model_dir: Path) -> None:
        """Weights (safetensors), tokenizer, and a config that fine-tunes with mean pooling."""
        self.model.config.classifier_pooling = "mean"
        self.model.save_pretrained(model_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(model_dir)


def over_unigram_interval(documents: Sequence[tuple[int, ...]], *, level: float = 0.95,
                          resamples: int = 2000, seed: int = 0) -> list[float]:
    """Percentile bootstrap interval of (model - unigram guess) accuracy at the [MASK]ed places.

    ``documents`` holds (model hits, unigram hits, [MASK]ed places) per held-out document; the
    documents are resampled with replacement (places in one document are not independent).
    """
    import numpy as np

    table = np.asarray([d for d in documents if d[2]], dtype=np.float64).reshape(-1, 3)
    if not len(table):
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    picks = table[rng.integers(0, len(table), size=(resamples, len(table)))]
    gaps = (picks[..., 0].sum(1) - picks[..., 1].sum(1)) / picks[..., 2].sum(1)
    tail = (1 - level) / 2 * 100
    return [float(v) for v in np.percentile(gaps, [tail, 100 - tail])]


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
    from toolkit.pipeline import recorded_run
    from toolkit.runs import RunFolder

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
    folder = RunFolder.create(out, overwrite=overwrite)
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
    folder.write_json("config.json", record)
    run = RunContext("pretrain", config=record, out_dir=folder.path, device=trainer.device)
    hooks = pm.hooks
    with recorded_run(folder, run, hooks):
        metrics = trainer.fit(texts, config, run=run, hooks=hooks)
        folder.save_model(trainer.save)
        metrics.update(corpus=corpus, model=model, init=init, device=trainer.device)
        pretraining_curves(metrics, folder.path / "pretraining.png")
        folder.finish(metrics)
    hooks.after_run(run, metrics)
    return {"status": "finished", **metrics}


# -- what the model learnt -----------------------------------------------------------------


def predict_mask(ref: str | Path, texts: Sequence[str], *, top_k: int = 5) -> list[dict[str, Any]]:
    """The ``top_k`` fillers of every [MASK] in each text, through transformers' fill-mask pipeline."""
    from transformers import AutoTokenizer, BertForMaskedLM, pipeline

    from ptm_bert.models import _quiet_transformers, refused_remote_code, safe_source

    if top_k <= 0:
        raise ConfigError(f"--top-k must be positive, got {top_k}")
    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise ConfigError("give at least one non-empty text, with [MASK] where a word is missing")
    _quiet_transformers()
    source = safe_source(_mask_model_folder(Path(ref).expanduser()))
    try:
        model, info = BertForMaskedLM.from_pretrained(
            source, use_safetensors=True, output_loading_info=True, trust_remote_code=False
        )
    except (OSError, ValueError) as error:
        raise refused_remote_code(error, str(ref)) or ConfigError(
            f"{ref} cannot be opened as a BERT masked-language model ({_one_line(error)}); give the "
            "--out of a ptm pretrain run"
        ) from None
    if any(key.startswith("cls.predictions") for key in info["missing_keys"]):
        raise ConfigError(
            f"{ref} has no masked-language-model head (a classifier, or an encoder saved without "
            "it); give the --out of a ptm pretrain run"
        )
    vocabulary = int(model.config.vocab_size)
    if top_k > vocabulary:
        raise ConfigError(
            f"--top-k {top_k} exceeds the model's vocabulary of {vocabulary:,} tokens; give at most {vocabulary}"
        )
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    mask = tokenizer.mask_token
    for text in texts:
        if mask not in text:
            raise ConfigError(f"'{text[:40]}' has no {mask}; write e.g. \"the film was {mask} .\"")
    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=top_k, device="cpu")
    results = []
    for text in texts:
        answer = fill(text)
        # One [MASK] gives a list of candidates, several give a list per mask.
        per_mask = answer if answer and isinstance(answer[0], list) else [answer]
        results.append(
            {
                "text": text,
                "masks": [
                    [{"token": c["token_str"].strip(), "probability": float(c["score"])} for c in candidates]
                    for candidates in per_mask
                ],
            }
        )
    return results


def _mask_model_folder(path: Path) -> Path:
    """The model folder ``predict-mask`` reads: a finished run's ``model/`` (opened like every
    run: its status and weights checked) or a saved model folder; anything else in one line."""
    from toolkit.runs import RunFolder

    if not path.exists():
        raise ConfigError(f"run folder {path} does not exist; give the --out of a ptm pretrain run")
    if not path.is_dir():
        raise ConfigError(f"{path} is a file, not a run folder; give the --out of a ptm pretrain run")
    if (path / "model").is_dir() or (path / "metrics.json").exists():
        return RunFolder.open(path).model_dir
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{path} is neither a ptm run nor a saved model folder (it has no config.json); give "
            "the --out of a ptm pretrain run"
        )
    return path


# -- the value of pretraining -----------------------------------------------------------------

COMPARED = (
    ("random init", "scratch:{run}"),
    ("self-pretrained", "{run}"),
    ("MiniLM", "minilm"),
)


def compare(
    pm: Any,
    pretrained: str | Path,
    *,
    data: str = "reviews",
    out: str | Path,
    overwrite: bool = False,
    baseline: str = "minilm",
    **train_options: Any,
) -> dict[str, Any]:
    """Fine-tune three models on the same data with the same budget, one run folder each
    under ``out``: the pretrained run's architecture from random weights, the pretrained run
    itself, and ``baseline`` (MiniLM). Writes ``comparison.json`` and ``comparison.png``
    (held-out accuracy per epoch, one line per model) and returns the table.
    """
    from toolkit.runs import RunFolder

    from ptm_bert.models import model_folder, safe_source

    run = str(pretrained)
    if not (Path(model_folder(run)) / "config.json").is_file():
        raise ConfigError(f"{run} is not a pretrained model or run folder; give the --out of ptm pretrain")
    safe_source(model_folder(run))  # a damaged or tampered run is refused before the folder exists
    folder = RunFolder.create(out, overwrite=overwrite)
    with folder.claimed():
        return _compare(pm, folder, run, data=data, baseline=baseline, train_options=train_options)


def _compare(pm: Any, folder: Any, run: str, *, data: str, baseline: str,
             train_options: dict[str, Any]) -> dict[str, Any]:
    from toolkit.pipeline import train

    rows = []
    for (name, template), slug in zip(COMPARED, ("random-init", "self-pretrained", "baseline")):
        ref = template.format(run=run) if template != "minilm" else baseline
        metrics = train(pm, model=ref, data=data, out=folder.path / slug, **train_options)
        rows.append(
            {
                "model": name,
                "ref": ref,
                "run": str(folder.path / slug),
                "accuracy": metrics["accuracy"],
                "f1": metrics["f1"],
                "accuracy_per_epoch": [h["accuracy"] for h in metrics["history"]],
                "train_seconds": metrics["train_seconds"],
                "parameters": metrics.get("trainable_parameters"),
            }
        )
    result = {"pretrained": recorded_ref(run), "data": recorded_ref(data), "options": {k: v for k, v in train_options.items() if v is not None}, "rows": rows}
    comparison_plot(rows, folder.path / "comparison.png")
    folder.finish(result)
    folder.write_json("comparison.json", result)
    return result


def comparison_plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Held-out accuracy after each epoch of fine-tuning, one line per starting point."""
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for row, marker in zip(rows, "osd^v"):
        epochs = range(1, len(row["accuracy_per_epoch"]) + 1)
        ax.plot(epochs, row["accuracy_per_epoch"], marker=marker, label=f"{row['model']} ({row['accuracy']:.3f})")
    ax.set(title="fine-tuning from three starting points", xlabel="epoch", ylabel="held-out accuracy")
    ax.set_xticks(list(range(1, max(len(r["accuracy_per_epoch"]) for r in rows) + 1)))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
