"""Pretraining speed: the toolkit's masked-LM loop against the plain transformers loop.

Both pretrain the same freshly initialised BERT (mini-bert: 4 layers, hidden 256, BERT's uncased
vocabulary of 30,522 pieces) on SST-2 phrases (labels dropped) for --steps steps of batch 32,
with transformers' ``DataCollatorForLanguageModeling`` masking 15% of the tokens:

- plain: shuffled batches and ``BertForMaskedLM(**batch).loss``, which projects every token
  onto the vocabulary;
- toolkit: ``ptm_bert.pretrainer.Pretrainer`` (length-grouped batches, the vocabulary projection
  only at the masked places).

    python benchmarks/pretrain.py [--steps 150] [--tokenizer bert-uncased|train]

Prints one JSON line: real (non-padding) tokens/s of both, their ratio, and the mean training
loss of each over its last 50 steps (the same objective, so they should be close).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from ptm_bert.mlm_model import start_model
from ptm_bert.pretrain_config import PretrainConfig
from ptm_bert.pretrainer import Pretrainer
from ptm_textdata.files import load_file

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(model, tokenizer, texts, config: PretrainConfig, steps: int) -> tuple[float, int, list[float]]:
    """The textbook loop: shuffled batches, the model's own MLM loss."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    encoded = tokenizer(texts, truncation=True, max_length=config.max_length, return_special_tokens_mask=True)
    features = [{k: v[i] for k, v in encoded.items()} for i in range(len(texts))]
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability, seed=config.seed)
    loader = DataLoader(features, batch_size=config.batch_size, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(config.seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * steps), steps)
    model.train()
    losses, tokens, seconds = [], 0, 0.0
    for batch in loader:
        tick = time.perf_counter()
        batch.pop("special_tokens_mask", None)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - tick
        losses.append(loss.item())
        tokens += int(batch["attention_mask"].sum())
        if len(losses) == steps:
            break
    return seconds, tokens, losses


def toolkit_loop(model, tokenizer, texts, config: PretrainConfig, steps: int) -> tuple[float, int, list[float]]:
    """The toolkit's Pretrainer, timed over its training steps only (its metrics)."""
    trainer = Pretrainer(model, tokenizer, device="cpu")
    config.steps, config.evaluations, config.progress = steps, 1, False
    metrics = trainer.fit(texts, config)
    return metrics["train_seconds"], metrics["tokens_seen"], metrics["step_loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--tokenizer", default="bert-uncased", choices=["bert-uncased", "train"])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    args = parser.parse_args()

    texts = [e.text for e in load_file(ref=args.data / "train.tsv").split("all")]
    results = {}
    for name, loop in (("plain", plain_loop), ("toolkit", toolkit_loop)):
        config = PretrainConfig(tokenizer=args.tokenizer)
        model, tokenizer, _ = start_model("mini-bert", config, texts if args.tokenizer == "train" else ())
        seconds, tokens, losses = loop(model, tokenizer, texts, config, args.steps)
        results[name] = (tokens / seconds, sum(losses[-50:]) / len(losses[-50:]))
    print(json.dumps({
        "steps": args.steps,
        "model": "mini-bert",
        "vocab": args.tokenizer,
        "plain_tokens_per_s": round(results["plain"][0]),
        "toolkit_tokens_per_s": round(results["toolkit"][0]),
        "speedup": round(results["toolkit"][0] / results["plain"][0], 2),
        "plain_last50_loss": round(results["plain"][1], 3),
        "toolkit_last50_loss": round(results["toolkit"][1], 3),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
