"""The masked-language-model training loop, and how it scores a model on held-out documents.

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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from toolkit.context import RunContext
from toolkit.errors import ConfigError

from ptm_bert.optim import adamw
from ptm_bert.pretrain_config import PretrainConfig

# Documents held out to measure the masked-token accuracy, at most.
MAX_HELD_OUT = 2000
# A small held-out set is masked up to this many times (with different masks), so that the
# accuracy rests on more places; never more than MAX_HELD_OUT rows in all.
HELD_OUT_MASKINGS = 4
MIN_DOCUMENTS = 20


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
        self, texts: Sequence[str], config: PretrainConfig, *, run: RunContext | None = None
    ) -> dict[str, Any]:
        """Pretrain; return the metrics (loss per step, held-out evaluations, cost).

        Each pass over the training texts is an epoch and each optimiser step a step of
        ``run.events`` (the same ``ptm_*_epoch`` and ``ptm_*_step`` hooks fine-tuning fires;
        an epoch's metrics are its mean loss and the last held-out evaluation)."""
        import torch
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup, set_seed

        from ptm_bert.trainer import LengthGroupedBatches
        from toolkit.lifecycle import events_of
        from toolkit.progress import bar_options

        run = run or RunContext("pretrain")
        events = run.events = events_of(run, "pretrain")
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
        optimizer = adamw(
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
        epoch = 0
        while step < total:
            epoch += 1
            with events.epoch(epoch) as epoch_report:
                losses = []
                for indices in batches:
                    batch = collate([features[i] for i in indices])
                    if not bool((batch["labels"] != -100).any()):
                        continue  # nothing was chosen in this batch of very short texts
                    step += 1
                    tick = time.perf_counter()
                    with events.step(step, batch) as report:
                        batch = {k: v.to(self.device) for k, v in batch.items()}
                        loss, _, _ = mlm_loss(model, batch)
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad(set_to_none=True)
                        report.loss = loss.item()
                    train_seconds += time.perf_counter() - tick
                    losses.append(report.loss)
                    step_loss.append(report.loss)
                    tokens += int(batch["attention_mask"].sum())
                    bar.update(1)
                    bar.set_postfix({"loss": f"{report.loss:.3f}",
                                     "held-out masked acc": f"{evaluations[-1]['masked_accuracy']:.3f}"})
                    if step % every == 0 or step == total:
                        with events.evaluate("held-out") as scored:
                            scored.scores = {"step": step, "epoch": round(step / per_epoch, 3), **self.evaluate(held_out)}
                        evaluations.append(scored.scores)
                    if step == total:
                        break
                epoch_report.metrics = {"epoch": epoch, "train_loss": sum(losses) / max(len(losses), 1),
                                        **{k: v for k, v in evaluations[-1].items() if k not in ("step", "epoch")}}
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
