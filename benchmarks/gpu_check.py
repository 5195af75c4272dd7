"""GPU check: MiniLM fine-tuned on SST-2 phrases on one GPU against the same run on the CPU.

Both runs use the toolkit's trainer (``FineTuner``) with the same data, seed and settings; the
GPU run uses bf16 autocast where the GPU supports it. The CPU run trains on fewer phrases
(--cpu-limit) so that the script stays short; examples/s is what is compared.

    python benchmarks/gpu_check.py [--limit 8000] [--cpu-limit 1000] [--batch-size 32]

Prints one JSON line: examples/s on each device, the ratio, dev accuracy of each, the GPU's
name. Without a CUDA GPU it says so and exits 0 (nothing to measure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ptm_bert.models import load_minilm
from ptm_bert.trainer import FineTuner
from ptm_textdata.files import load_file

ROOT = Path(__file__).resolve().parents[1]


def run(device: str, train: list, dev: list, batch_size: int) -> dict:
    fitter = FineTuner(load_minilm(num_labels=2), device=device)
    metrics = fitter.fit(train, dev, {"max_length": 64, "batch_size": batch_size, "progress": False,
                                      "checkpoint": False})
    return {"examples_per_second": round(metrics["examples_per_second"], 1),
            "dev_accuracy": round(metrics["accuracy"], 4), "train_examples": len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=8000, help="SST-2 phrases for the GPU run")
    parser.add_argument("--cpu-limit", type=int, default=1000, help="SST-2 phrases for the CPU run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"gpu": None, "note": "no CUDA GPU here: nothing measured"}))
        return
    torch.manual_seed(0)
    phrases = load_file(ref=args.data / "train.tsv").split("all")
    dev = load_file(ref=args.data / "dev.tsv").split("all")
    gpu = run("cuda", phrases[: args.limit], dev, args.batch_size)
    cpu = run("cpu", phrases[: args.cpu_limit], dev, args.batch_size)
    print(json.dumps({
        "gpu": torch.cuda.get_device_name(0),
        "bf16": torch.cuda.is_bf16_supported(),
        "gpu_run": gpu,
        "cpu_run": {**cpu, "threads": torch.get_num_threads()},
        "speedup_examples_per_second": round(gpu["examples_per_second"] / cpu["examples_per_second"], 2),
    }))


if __name__ == "__main__":
    main()
