"""What DP-SGD costs: whole private training runs, and the price of one private step.

``recipes`` (the default) runs ``ptm train`` as a user would, one whole process each, on 2,000
SST-2 training phrases (``--limit 2000 --seed 0``), scored on the 872 SST-2 dev sentences:
the non-private reference (``ptm train`` with its defaults), then at epsilon 1, 3 and 8 the
former default DP recipe (LoRA adapters in every layer, batch 256, 10 epochs, lr 1e-2, the whole
model run every step) and today's (``--privacy dp-sgd --epsilon E`` with nothing else: the head
on frozen features computed once, see plugins/ptm_dp/defaults.py). Each row: wall seconds of
the process, dev accuracy, the epsilon the accountant reports; the ratios are against the
non-private run of the same invocation.

    python benchmarks/privacy.py [recipes] [--epsilons 1,3,8] [--data ../shared/data/sst2]

``engines`` times training steps of MiniLM at a fixed batch under each of Opacus' per-example
gradient engines (hooks, functorch, ghost clipping), as a ratio to the plain step:

    python benchmarks/privacy.py engines [--trainable all] [--batch-size 32] [--steps 6]

Each prints JSON lines (recipes: one per run, then a summary).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
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


# The DP defaults before issue 23 (what `--privacy dp-sgd --epsilon E` trained until then).
FORMER_RECIPE = ["--trainable", "lora", "--batch-size", "256", "--epochs", "10", "--lr", "1e-2",
                 "--max-length", "64", "--no-cache-frozen"]


def timed_train(args, out: Path, *extra: str) -> dict:
    """One whole ``ptm train`` process: its wall seconds and what metrics.json says."""
    ptm = str(Path(sys.executable).parent / "ptm")
    command = [ptm, "train", "--model", "minilm", "--data", str(args.data / "train.tsv"),
               "--eval-data", str(args.data / "dev.tsv"), "--limit", "2000", "--seed", "0",
               "--quiet", "--out", str(out), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {"seconds": round(seconds, 1), "dev_accuracy": round(metrics["accuracy"], 4),
            "epsilon": None if metrics.get("epsilon") is None else round(metrics["epsilon"], 3),
            "train_seconds": round(metrics["train_seconds"], 1), "trainable": metrics["trainable"]}


def recipes(args) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reference = timed_train(args, Path(tmp) / "plain")
        rows.append({"recipe": "non-private (ptm train defaults)", "target_epsilon": None, **reference})
        print(json.dumps(rows[-1]), flush=True)
        for epsilon in [float(e) for e in args.epsilons.split(",")]:
            for name, extra in (("former DP default", FORMER_RECIPE), ("DP default", [])):
                out = Path(tmp) / f"{name.replace(' ', '-')}-{epsilon:g}"
                run = timed_train(args, out, "--privacy", "dp-sgd", "--epsilon", f"{epsilon:g}", *extra)
                rows.append({"recipe": name, "target_epsilon": epsilon, **run,
                             "time_vs_non_private": round(run["seconds"] / reference["seconds"], 2)})
                print(json.dumps(rows[-1]), flush=True)
    by = {(r["recipe"], r["target_epsilon"]): r for r in rows}
    summary = {
        f"eps {e:g}": {"speed-up": round(by[("former DP default", e)]["seconds"] / by[("DP default", e)]["seconds"], 2),
                       "accuracy change": round(by[("DP default", e)]["dev_accuracy"]
                                                - by[("former DP default", e)]["dev_accuracy"], 4)}
        for e in [float(x) for x in args.epsilons.split(",")]
    }
    print(json.dumps({"summary": summary, "non_private": reference}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", nargs="?", choices=("recipes", "engines"), default="recipes")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--epsilons", default="1,3,8")
    parser.add_argument("--trainable", default="all")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    if args.what == "recipes":
        return recipes(args)
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
