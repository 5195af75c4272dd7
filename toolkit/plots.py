"""A run's plots as PNGs: training curves and the confusion matrix (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def training_curves(metrics: dict[str, Any], path: Path, *,
                    scores: Sequence[tuple[str, str]] = (("accuracy", "accuracy"), ("f1", "macro-F1"))) -> Path:
    """Loss per step (with its running mean) and per epoch on the left; held-out scores on the
    right (``scores``: (key, label) pairs, the task's metrics, at most four), per epoch, or as
    labelled bars after a single epoch (one point on a line shows nothing)."""
    import numpy
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    history = [h for h in metrics.get("history", []) if isinstance(h, dict) and "epoch" in h]
    steps = metrics.get("step_loss", [])
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    if steps:
        per_epoch = max(1, len(steps) // max(len(epochs), 1))
        x = [(i + 1) / per_epoch for i in range(len(steps))]
        left.plot(x, steps, alpha=0.3, label="each step")
        window = max(1, min(25, len(steps) // 5))
        if window > 1:
            running = numpy.convolve(steps, numpy.ones(window) / window, mode="valid")
            left.plot(x[window - 1:], running, label=f"mean of {window} steps")
    if history and "train_loss" in history[0]:
        left.plot(epochs, [h["train_loss"] for h in history], "o", color="black", label="epoch mean")
    left.set(title="training loss", xlabel="epoch", ylabel="cross-entropy", xlim=(0, 1.03 * max(epochs, default=1)))
    left.legend()
    # epochs without scores: a run that evaluated only after its last epoch
    scored = [h for h in history if scores and scores[0][0] in h]
    scores = [(key, label) for key, label in scores if scored and key in scored[0]][:4]
    if len(scored) == 1:
        values = [scored[0][key] for key, _ in scores]
        bars = right.bar([label for _, label in scores], values, color=["C0", "C1", "C2", "C3"][: len(scores)], width=0.5)
        right.bar_label(bars, fmt="%.3f")
        right.set(title=f"held-out test after epoch {scored[0]['epoch']}", ylim=(0, 1.05))
    else:
        for (key, label), style in zip(scores, ("o-", "s--", "^:", "d-.")):
            right.plot([h["epoch"] for h in scored], [h[key] for h in scored], style, label=label)
        right.set(title="held-out test", xlabel="epoch", ylim=(0, 1.02))
        if epochs:
            right.set_xticks(epochs)
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def confusion_matrix_plot(matrix: list[list[int]], label_names: list[str], path: Path) -> Path:
    """The held-out confusion matrix as a picture: rows are the true label, columns the
    prediction, each cell its count (scikit-learn's ConfusionMatrixDisplay)."""
    import numpy
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    size = 2.2 + 0.6 * len(label_names)
    fig = Figure(figsize=(size + 0.6, size))
    ax = fig.subplots()
    ConfusionMatrixDisplay(numpy.asarray(matrix), display_labels=label_names).plot(
        ax=ax, cmap="Blues", colorbar=False, values_format="d"
    )
    ax.set(title="held-out confusion matrix", xlabel="predicted label", ylabel="true label")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path

