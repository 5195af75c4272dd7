"""Fine-tuning speed: the toolkit's trainer against the plain loop, on real SST-2 data.

Both fine-tune MiniLM-L6 for one epoch on the same 2,000 SST-2 training phrases (batch 32, max
length 64, AdamW at the same learning rate and schedule, the same seed) in this one process, and
are scored on the 872 SST-2 dev sentences neither saw. The plain loop is the textbook code written
directly on transformers: shuffle, tokenize each batch, pad it to its longest. The toolkit's
trainer tokenizes once, groups batches by length and steps AdamW with PyTorch's fused kernel
(one pass over all the weights; the plain loop keeps the default).

    python benchmarks/finetune.py [--n 2000] [--data ../shared/data/sst2] [--seeds 42,1,2]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from transformers import get_linear_schedule_with_warmup, set_seed

from ptm_bert.models import load_minilm
from ptm_bert.trainer import FineTuner, TrainConfig, score
from ptm_textdata.files import load_file

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(train, config: TrainConfig) -> tuple[float, object]:
    """The seed's loop: shuffled batches, tokenized and padded to their longest, one by one."""
    set_seed(config.seed)
    loaded = load_minilm(num_labels=2)
    model, tokenizer = loaded.model, loaded.tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    order = list(range(len(train)))
    random.Random(config.seed).shuffle(order)
    batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * len(batches)), len(batches)
    )
    model.train()
    start = time.perf_counter()
    for idx in batches:
        enc = tokenizer(
            [train[i].text for i in idx],
            padding=True,
            truncation=True,
            max_length=config.max_length,
            return_tensors="pt",
        )
        labels = torch.tensor([train[i].label for i in idx])
        loss = model(**enc, labels=labels).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    seconds = time.perf_counter() - start
    return len(train) / seconds, FineTuner(loaded, device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--seeds", default="42", help="comma-separated; accuracy varies by ~2 points per seed")
    args = parser.parse_args()
    rows = load_file(ref=args.data / "train.tsv").split("all")
    train = random.Random(0).sample(rows, args.n)
    dev = load_file(ref=args.data / "dev.tsv").split("all")
    plain_speed, toolkit_speed, plain_accs, toolkit_accs = [], [], [], []
    for seed in [int(s) for s in args.seeds.split(",")]:
        config = TrainConfig(epochs=1, batch_size=32, max_length=64, progress=False, seed=seed)
        plain_eps, plain = plain_loop(train, config)
        plain_speed.append(plain_eps)
        plain_accs.append(plain.evaluate(dev, config)["accuracy"])
        toolkit = FineTuner(load_minilm(num_labels=2), device="cpu")
        metrics = toolkit.fit(train, dev, config)
        toolkit_speed.append(metrics["examples_per_second"])
        toolkit_accs.append(metrics["accuracy"])
    plain_eps = sum(plain_speed) / len(plain_speed)
    toolkit_eps = sum(toolkit_speed) / len(toolkit_speed)
    print(
        json.dumps(
            {
                "benchmark": "finetune",
                "model": "minilm",
                "train_phrases": args.n,
                "epochs": 1,
                "batch_size": 32,
                "max_length": 64,
                "threads": torch.get_num_threads(),
                "seeds": args.seeds,
                "plain_examples_per_s": round(plain_eps, 1),
                "toolkit_examples_per_s": round(toolkit_eps, 1),
                "speedup": round(toolkit_eps / plain_eps, 2),
                "plain_dev_accuracy": [round(a, 4) for a in plain_accs],
                "toolkit_dev_accuracy": [round(a, 4) for a in toolkit_accs],
                "plain_mean_accuracy": round(sum(plain_accs) / len(plain_accs), 4),
                "toolkit_mean_accuracy": round(sum(toolkit_accs) / len(toolkit_accs), 4),
                "dev_sentences": len(dev),
            }
        )
    )


if __name__ == "__main__":
    main()
