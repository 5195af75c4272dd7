"""The privacy-utility curve: one DP-SGD run per epsilon, accuracy against epsilon."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError


def parse_epsilons(text: str) -> list[float]:
    """``"1,3,8,inf"`` -> [1.0, 3.0, 8.0, inf]; each must be > 0."""
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(f"--epsilons: '{part}' is not a number; write e.g. 1,3,8,inf") from None
        if not value > 0:
            raise ConfigError(f"--epsilons: every epsilon must be > 0, got {part}")
        values.append(value)
    if not values:
        raise ConfigError("--epsilons is empty; write e.g. 1,3,8,inf")
    return sorted(set(values))


def run_name(epsilon: float) -> str:
    return "eps-inf" if math.isinf(epsilon) else f"eps-{epsilon:g}"


def sweep(pm: Any, *, epsilons: list[float], out: str | Path, overwrite: bool = False,
          privacy: str = "dp-sgd", privacy_options: dict[str, Any] | None = None,
          **train_options: Any) -> dict[str, Any]:
    """Train one run per epsilon under ``out`` (``inf``: the same training, no noise or clipping).

    Every run uses the privacy mechanism's defaults for the hyper-parameters not given, so the
    non-private reference trains the same parameters for the same number of epochs.
    """
    from toolkit import pipeline
    from toolkit.runs import RunFolder, write_json_atomic

    folder = RunFolder.create(out, overwrite=overwrite)
    rows = []
    for epsilon in epsilons:
        started = time.perf_counter()
        metrics = pipeline.train(
            pm, out=folder.path / run_name(epsilon), privacy=privacy,
            privacy_options={**(privacy_options or {}), "epsilon": epsilon}, **train_options,
        )
        rows.append(
            {
                "target_epsilon": epsilon,
                "epsilon": metrics.get("epsilon"),
                "delta": metrics.get("delta"),
                "noise_multiplier": metrics.get("noise_multiplier"),
                "accuracy": metrics["accuracy"],
                "f1": metrics["f1"],
                "seconds": time.perf_counter() - started,
                "run": run_name(epsilon),
            }
        )
    result = {"status": "finished", "runs": rows, "privacy": privacy}
    plot_sweep(rows, folder.path / "sweep.png")
    write_json_atomic(folder.path / "sweep.json", result)
    return result


def plot_sweep(rows: list[dict[str, Any]], path: Path) -> Path:
    """Accuracy against epsilon (log axis); the non-private run as a dashed line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 4), dpi=120)
    axes = figure.subplots()
    finite = [r for r in rows if math.isfinite(r["target_epsilon"])]
    if finite:
        axes.plot([r["target_epsilon"] for r in finite], [r["accuracy"] for r in finite], "o-",
                  label="DP-SGD")
        for r in finite:
            axes.annotate(f"{r['accuracy']:.3f}", (r["target_epsilon"], r["accuracy"]),
                          textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        axes.set_xscale("log")
    for r in rows:
        if not math.isfinite(r["target_epsilon"]):
            axes.axhline(r["accuracy"], ls="--", color="grey", label=f"no privacy ({r['accuracy']:.3f})")
    axes.set_xlabel("epsilon (log scale)")
    axes.set_ylabel("held-out accuracy")
    axes.set_ylim(0, 1.02)
    axes.set_title("privacy-utility trade-off")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return path
