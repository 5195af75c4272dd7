"""The tagging task on the embedded `entities` data: MiniLM's entity F1 and time, beside a
plain baseline measured in the same run.

The baseline tags each word with the tag it carried most often in the training split (O for a
word never seen): what memorising names gives. The test split's names never occur in train,
so only a model that reads context (and knows names from pretraining) scores there.

    python benchmarks/tagging.py                 # train, score on dev (what settings are tuned on)
    python benchmarks/tagging.py --test          # ... and on the test split, once settings are fixed
    python benchmarks/tagging.py --epochs 3 --lr 1e-4

Runs the whole `ptm train --task tagging` process (start-up and model load included) and prints
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def memorising_baseline(train, evaluated, names) -> float:
    from seqeval.metrics import f1_score

    seen: dict[str, Counter] = {}
    for example in train:
        for word, tag in zip(example.words, example.tags):
            seen.setdefault(word.lower(), Counter())[names[tag]] += 1
    guess = [[seen[w.lower()].most_common(1)[0][0] if w.lower() in seen else "O" for w in e.words] for e in evaluated]
    truth = [[names[t] for t in e.tags] for e in evaluated]
    return float(f1_score(truth, guess, zero_division=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--test", action="store_true", help="also score the test split (do this once)")
    args = parser.parse_args()

    from ptm_textdata.tagging import load_entities

    data = load_entities()
    names = list(data.label_names)
    root = Path(tempfile.mkdtemp(prefix="ptm-tagging-"))
    splits = {"dev": "dev"} | ({"test": "test"} if args.test else {})
    files = {}
    for split in ("train", *splits):
        path = root / f"{split}.jsonl"
        path.write_text("".join(
            json.dumps({"tokens": list(e.words), "tags": [names[t] for t in e.tags]}) + "\n"
            for e in data.splits[split]))
        files[split] = path
    ptm = [sys.executable, "-m", "toolkit.cli"]
    command = [*ptm, "train", "--task", "tagging", "--model", args.model, "--data", str(files["train"]),
               "--eval-data", str(files["dev"]), "--seed", str(args.seed), "--out", str(root / "run"), "--quiet"]
    for flag, value in (("--epochs", args.epochs), ("--lr", args.lr), ("--batch-size", args.batch_size)):
        if value is not None:
            command += [flag, str(value)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    result: dict = {"model": args.model, "seed": args.seed, "train_sentences": len(data.splits["train"]),
                    "train_process_seconds": round(seconds, 1),
                    "config": json.loads((root / "run" / "metrics.json").read_text())["config"]}
    for split in splits:
        scores = json.loads(subprocess.run([*ptm, "evaluate", str(root / "run"), "--data", str(files[split]), "--json"],
                                           check=True, capture_output=True, text=True).stdout)
        result[split] = {"entity_f1": round(scores["f1"], 3), "precision": round(scores["precision"], 3),
                         "recall": round(scores["recall"], 3), "token_accuracy": round(scores["accuracy"], 3),
                         "n": scores["n"],
                         "baseline_entity_f1": round(memorising_baseline(data.splits["train"], data.splits[split], names), 3),
                         "per_type_f1": {k: round(v["f1"], 3) for k, v in scores["per_type"].items()}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
