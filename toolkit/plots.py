"""Training curves as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def training_curves(metrics: dict[str, Any], path: Path) -> Path:
    """Loss per step and per epoch on the left, test accuracy and macro-F1 per epoch on the right."""
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    history = metrics.get("history", [])
    steps = metrics.get("step_loss", [])
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    if steps:
        per_epoch = max(1, len(steps) // max(len(epochs), 1))
        left.plot([(i + 1) / per_epoch for i in range(len(steps))], steps, alpha=0.35, label="step")
    left.plot(epochs, [h["train_loss"] for h in history], "o-", label="epoch mean")
    left.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    left.legend()
    right.plot(epochs, [h["accuracy"] for h in history], "o-", label="accuracy")
    right.plot(epochs, [h["f1"] for h in history], "s--", label="macro-F1")
    right.set(title="held-out test", xlabel="epoch", ylim=(0, 1.02))
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
