"""How the default DP-SGD recipe was chosen: a small grid scored on a tuning split, never on dev.

The tuning split is 2,000 SST-2 training phrases outside the run's own training sample (the one
`--limit 2000 --seed S` draws); SST-2's dev set stays unseen until benchmarks/privacy.py
reports on it once. Every run: MiniLM, the head on frozen mean-pooled features (cached),
epsilon 8, the default delta 1/(10 N).

    python benchmarks/tune_dp.py [--data ../shared/data/sst2] [--seeds 0,1] [--epsilon 8]
        [--lrs 0.01,0.02,0.05,0.1,0.2] [--epochs 10,20,40] [--batch-sizes 256]

Prints one JSON line per setting (mean tuning accuracy over the seeds) and the best last. The
defaults were chosen from two invocations (NOTES.md, session 13): --lrs 0.02,0.05,0.1,0.2
--epochs 10,20, then --lrs 0.01,0.02 --epochs 20,40.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import tempfile
import warnings
from pathlib import Path

from toolkit import pipeline
from toolkit.manager import create_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
warnings.filterwarnings("ignore")


def tuning_file(pm, train: Path, seeds: list[int], limit: int, size: int, folder: Path) -> Path:
    """``size`` training phrases that none of the seeds' training samples contains."""
    dataset = pipeline.load_data(pm, str(train))
    used = set()
    for seed in seeds:
        rows, _ = pipeline.training_split(dataset, seed=seed, limit=limit)
        used |= {e.text for e in rows}
    rest = [e for e in dataset.split("all") if e.text not in used]
    picked = random.Random(1234).sample(rest, size)
    path = folder / "tune.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{e.text}\t{dataset.label_names[e.label]}\n" for e in picked))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--lrs", default="0.02,0.05,0.1,0.2")
    parser.add_argument("--epochs", default="10,20")
    parser.add_argument("--batch-sizes", default="256")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pm = create_plugin_manager()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tune = tuning_file(pm, args.data / "train.tsv", seeds, args.limit, 2000, folder)
        grid = itertools.product([float(x) for x in args.lrs.split(",")], [int(x) for x in args.epochs.split(",")],
                                 [int(x) for x in args.batch_sizes.split(",")])
        for lr, epochs, batch in grid:
            scores = []
            for seed in seeds:
                metrics = pipeline.train(
                    pm, model="minilm", data=str(args.data / "train.tsv"), eval_data=str(tune),
                    out=folder / "run", overwrite=True, limit=args.limit, privacy="dp-sgd",
                    privacy_options={"epsilon": args.epsilon}, trainable="head", lr=lr, epochs=epochs,
                    batch_size=batch, seed=seed, progress=False,
                )
                scores.append(metrics["accuracy"])
            row = {"lr": lr, "epochs": epochs, "batch_size": batch, "tune_accuracy": statistics.mean(scores),
                   "per_seed": scores}
            results.append(row)
            print(json.dumps(row), flush=True)
    best = max(results, key=lambda r: r["tune_accuracy"])
    print(json.dumps({"best": best}))


if __name__ == "__main__":
    main()
