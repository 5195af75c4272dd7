"""The price of DP-SGD per step: the same model, data and batch, with and without Opacus.

For each of Opacus' per-example gradient engines (hooks, functorch, ghost clipping) this times
training steps of MiniLM on SST-2 phrases at a fixed batch size and prints the time per step as a
ratio to the non-private step measured in the same process.

    python benchmarks/privacy.py [--trainable all] [--batch-size 32] [--steps 6] [--data ../shared/data/sst2]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
import warnings
from pathlib import Path

import torch

from ptm_bert import trainable
from ptm_bert.models import load_minilm
from ptm_bert.trainer import FineTuner, TrainConfig
from ptm_dp.dpsgd import make_dp_sgd
from ptm_textdata.files import load_file

ROOT = Path(__file__).resolve().parents[1]
warnings.filterwarnings("ignore")


def step_seconds(mode: str | None, rows, args) -> float:
    """Median seconds per optimizer step after one warm-up step."""
    torch.manual_seed(0)
    fitter = FineTuner(load_minilm(num_labels=2), device="cpu")
    config = TrainConfig(batch_size=args.batch_size, max_length=64, trainable=args.trainable)
    model = trainable.apply(fitter.model, args.trainable)
    loader = fitter.loader(fitter.encode(rows, 64), config, positions=mode is not None)
    # The same fixed batches for every mode (Poisson batches would differ in size and length).
    batches = [dict(b) for _, b in zip(range(args.steps + 1), loader)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    if mode is not None:
        privacy = make_dp_sgd(epsilon=8.0, grad_sample_mode=mode)
        model, optimizer, criterion, _ = privacy.wrap(model, optimizer, criterion, loader, epochs=1)
    times = []
    for batch in batches:
        labels = batch.pop("labels")
        start = time.perf_counter()
        criterion(model(**batch).logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--trainable", default="all")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    rows = random.Random(0).sample(load_file(ref=args.data / "train.tsv").split("all"), 2000)
    plain = step_seconds(None, rows, args)
    result = {"trainable": args.trainable, "batch_size": args.batch_size, "plain_step_s": round(plain, 3)}
    for mode in ("hooks", "functorch", "ghost"):
        try:
            seconds = step_seconds(mode, rows, args)
            result[f"{mode}_step_s"] = round(seconds, 3)
            result[f"{mode}_ratio"] = round(seconds / plain, 2)
        except Exception as error:  # a mode that fails is a result too
            result[f"{mode}_error"] = f"{type(error).__name__}: {str(error)[:120]}"
    ratios = {m: result[f"{m}_ratio"] for m in ("hooks", "functorch", "ghost") if f"{m}_ratio" in result}
    result["fastest"] = min(ratios, key=ratios.get) if ratios else None
    result["fastest_ratio"] = min(ratios.values()) if ratios else math.nan
    print(json.dumps(result))


if __name__ == "__main__":
    main()
