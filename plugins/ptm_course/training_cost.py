"""The `training-cost` lesson, headless: what fine-tuning costs, and how to cut it.

Five ways to fine-tune a classifier for the `reviews` labels, on the same 400 training
sentences, seeds and budget (one epoch of batch 8): every MiniLM weight (``full``), rank-8 LoRA
adapters (``lora``), the classification head alone (``head``), every weight of a smaller model
(MiniLM with its top three layers dropped), and full fine-tuning under bf16 autocast where the
CPU does bf16 natively. Each method's learning rate is chosen on the dev split (quick mode
trains the rate an earlier comparison on dev chose, ``Method.quick_lr``); the chosen runs are
scored on the test split once. Cost is the trainer's FLOPs count
(:func:`ptm_bert.trainer.flops_per_token`) and the seconds the training loop took.

The notebook calls the same functions (:func:`measure`, :func:`pareto_front`,
:func:`pareto_plot`), so both make the same claims.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Method:
    """One way to fine-tune: which parameters train, on how many layers, in which precision."""

    name: str
    trainable: str  # ptm train --trainable: all, lora or head
    layers: int  # MiniLM's encoder layers kept, from the bottom (6: all of them)
    precision: str  # fp32 or bf16 (autocast)
    lrs: tuple[float, ...]  # the learning rates the full run compares on dev
    # quick mode trains this one rate only: the best mean dev accuracy when the two larger rates
    # were compared on dev (quick mode before 2026-12-02; ties go to the smaller rate)
    quick_lr: float | None = None


METHODS = (
    Method("full", "all", 6, "fp32", (5e-5, 1e-4, 2e-4), 1e-4),
    Method("LoRA r=8", "lora", 6, "fp32", (1e-3, 3e-3, 1e-2), 3e-3),
    Method("head only", "head", 6, "fp32", (3e-3, 1e-2, 3e-2), 1e-2),
    Method("MiniLM-L3, full", "all", 3, "fp32", (1e-4, 2e-4, 4e-4), 4e-4),
    # bf16 is the same method as "full" in another precision: it takes full's chosen rate
    Method("full, bf16", "all", 6, "bf16", ()),
)


def settings(quick: bool) -> dict[str, Any]:
    """What quick and full mode train: the same budget per run, more seeds and rates in full."""
    return {
        "epochs": 1,
        "batch_size": 8,
        "max_length": 64,
        "seeds": (0,) if quick else (0, 1, 2),
    }


def load_minilm(pm: Any, label_names: Sequence[str], layers: int = 6) -> Any:
    """MiniLM with a fresh head; with ``layers`` < 6 its top layers are dropped (the bottom
    ``layers`` keep their pretrained weights: a smaller pretrained model at no training cost)."""
    from toolkit import pipeline

    loaded = pipeline.load_model(pm, "minilm", label_names=label_names)
    model = loaded.model
    if layers < model.config.num_hidden_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    return loaded


def fit(pm: Any, data: Any, method: Method, *, lr: float, seed: int, quick: bool,
        device: str = "cpu", progress: bool = False) -> tuple[Any, dict[str, Any]]:
    """Train ``method`` on the train split, scored on dev; return (the trainer, its metrics)."""
    from toolkit.registry import TrainerSpec
    from toolkit.seeding import seed_everything

    size = settings(quick)
    seed_everything(seed)  # before loading, as pipeline.train: the new head is drawn then
    loaded = load_minilm(pm, data.label_names, method.layers)
    trainer = pm.registry.get(TrainerSpec, "finetune").load()(loaded, device=device)
    metrics = trainer.fit(data.split("train"), data.split("dev"), {
        "trainable": method.trainable, "precision": method.precision, "lr": lr, "seed": seed,
        "epochs": size["epochs"], "batch_size": size["batch_size"], "max_length": size["max_length"],
        "progress": progress, "checkpoint": False,
    })
    return trainer, metrics


def bf16_available(pm: Any, device: str = "cpu") -> bool:
    """Whether the device the runs train on does bf16 arithmetic natively."""
    from ptm_bert.trainer import bf16_supported, pick_device

    return bf16_supported(pick_device(device))


def correct_on(trainer: Any, examples: Sequence[Any]) -> list[int]:
    """1 for each example the trained model labels right, 0 otherwise."""
    predicted = trainer.predict_proba([e.text for e in examples]).argmax(-1).tolist()
    return [int(p == e.label) for p, e in zip(predicted, examples)]


def interval(values: Sequence[float], *, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (per-example scores, or paired
    per-example differences), resampling the examples 2,000 times."""
    import numpy as np
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    result = bootstrap((values,), np.mean, n_resamples=2000, confidence_level=level,
                       method="percentile", random_state=seed)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def measure(pm: Any, data: Any, *, quick: bool, device: str = "cpu", progress: bool = False,
            log: Any = print) -> list[dict[str, Any]]:
    """Each method's learning rate chosen on dev (mean over the seeds), then its chosen runs
    scored on test once; one row per method with its cost and accuracy."""
    size = settings(quick)
    test = data.split("test")
    rows, chosen_lr = [], None
    for method in METHODS:
        if method.precision == "bf16" and not bf16_available(pm, device):
            log(f"{method.name}: skipped, this device has no native bf16 arithmetic")
            continue
        if not method.lrs:
            rates: tuple[float | None, ...] = (chosen_lr,)
        elif quick:
            rates = (method.quick_lr,)
        else:
            rates = method.lrs
        dev: dict[float, float] = {}
        best: tuple[float, list[Any], list[dict[str, Any]]] | None = None
        for lr in rates:
            trained = [fit(pm, data, method, lr=lr, seed=s, quick=quick, device=device, progress=progress)
                       for s in size["seeds"]]
            dev[lr] = statistics.mean(m["accuracy"] for _, m in trained)
            log(f"{method.name:>16}  lr {lr:.0e}  dev accuracy {dev[lr]:.3f}")
            if best is None or dev[lr] > best[0]:
                best = (dev[lr], [t for t, _ in trained], [m for _, m in trained])
        assert best is not None
        lr = max(dev, key=dev.get)
        if method.name == "full":
            chosen_lr = lr
        # The test split, once: only the chosen rate's runs are scored on it.
        correct = [correct_on(t, test) for t in best[1]]
        accuracies = [sum(c) / len(c) for c in correct]
        metrics = best[2]
        rows.append({
            "method": method.name, "trainable": method.trainable, "layers": method.layers,
            "precision": metrics[0]["dtype"], "lr": lr, "dev": dev,
            "trainable_parameters": metrics[0]["trainable_parameters"],
            "total_parameters": metrics[0]["total_parameters"],
            "flops_per_token": metrics[0]["train_flops_per_token"],
            "tokens": metrics[0]["tokens_seen"],
            "flops": statistics.mean(m["train_flops_estimate"] for m in metrics),
            "seconds": statistics.mean(m["train_seconds"] for m in metrics),
            "test": statistics.mean(accuracies),
            "test_runs": accuracies,
            # per example, the share of seeds that got it right (the paired comparisons use it)
            "correct": [statistics.mean(col) for col in zip(*correct)],
        })
        row = rows[-1]
        low, high = interval(row["correct"]) if len(accuracies) == 1 else (min(accuracies), max(accuracies))
        row["low"], row["high"] = low, high
        del best
    return rows


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates: none is at most as costly and at least
    as accurate, and strictly better in one of the two."""
    return [
        i for i, (cost, accuracy) in enumerate(zip(costs, accuracies))
        if not any(c <= cost and a >= accuracy and (c < cost or a > accuracy)
                   for c, a in zip(costs, accuracies))
    ]


def pareto_plot(rows: Sequence[dict[str, Any]], path: Path, *, quick: bool) -> Path:
    """Test accuracy against training FLOPs and against seconds, the Pareto front drawn."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2))
    axes = figure.subplots(1, 2, sharey=True)
    accuracy = [r["test"] for r in rows]
    spread = [[r["test"] - r["low"] for r in rows], [r["high"] - r["test"] for r in rows]]
    for ax, key, label in ((axes[0], "flops", "training FLOPs (estimate)"),
                           (axes[1], "seconds", "training seconds on this machine")):
        cost = [r[key] for r in rows]
        front = sorted(pareto_front(cost, accuracy), key=lambda i: cost[i])
        ax.step([cost[i] for i in front], [accuracy[i] for i in front], where="post",
                color="#999", linestyle="--", label="Pareto front")
        for i, row in enumerate(rows):
            on = i in front
            ax.errorbar([cost[i]], [accuracy[i]], yerr=[[spread[0][i]], [spread[1][i]]], fmt="o" if on else "x",
                        capsize=3, color=f"C{i}", label=row["method"])
            ax.annotate(row["method"], (cost[i], accuracy[i]), textcoords="offset points", xytext=(6, 6),
                        fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[1].legend(fontsize=8, loc="lower right")
    bars = "95% bootstrap interval, one seed" if quick else "mean, bars: min and max of 3 seeds"
    figure.suptitle(f"Cost against accuracy, rates chosen on dev ({bars})", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def compare(rows: Sequence[dict[str, Any]], name: str, to: str = "full") -> tuple[float, float, float]:
    """Test accuracy of ``name`` minus ``to``'s, with its paired bootstrap interval."""
    a = next(r for r in rows if r["method"] == name)["correct"]
    b = next(r for r in rows if r["method"] == to)["correct"]
    differences = [x - y for x, y in zip(a, b)]
    low, high = interval(differences)
    return statistics.mean(differences), low, high


def verdict(rows: Sequence[dict[str, Any]], *, quick: bool) -> tuple[str, bool]:
    """The lesson's claim on these measurements, and whether they bear it out."""
    by = {r["method"]: r for r in rows}
    full, lora, head = by["full"], by["LoRA r=8"], by["head only"]
    lora_share, head_share = lora["flops"] / full["flops"], head["flops"] / full["flops"]
    difference, low, high = compare(rows, "head only")
    holds = 0.55 <= lora_share <= 0.75 and 0.30 <= head_share <= 0.37 and high < 0
    claim = (f"Training fewer weights saves less compute than their count suggests: LoRA trains "
             f"{lora['trainable_parameters'] / full['trainable_parameters']:.1%} of MiniLM's weights but "
             f"spends {lora_share:.0%} of full fine-tuning's training FLOPs (the backward pass still "
             f"reaches every layer). Training the head only spends {head_share:.0%}, and at the same "
             f"budget it is less accurate on the held-out test sentences: {difference:+.3f} against "
             f"full fine-tuning (paired 95% interval [{low:+.3f}, {high:+.3f}]).")
    return claim, holds


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from toolkit import pipeline
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    data = pipeline.load_data(pm, "reviews")
    size = settings(quick)
    notes: list[str] = []
    rows = measure(pm, data, quick=quick, device=device, progress=progress, log=notes.append)
    by = {r["method"]: r for r in rows}
    full, lora, head = by["full"], by["LoRA r=8"], by["head only"]
    ratio = {name: r["flops"] / full["flops"] for name, r in by.items()}
    plot = pareto_plot(rows, out / "pareto.png", quick=quick)
    front_flops = {rows[i]["method"] for i in pareto_front([r["flops"] for r in rows], [r["test"] for r in rows])}
    front_seconds = {rows[i]["method"] for i in pareto_front([r["seconds"] for r in rows], [r["test"] for r in rows])}
    spread = "95% bootstrap interval" if quick else "min to max of 3 seeds"

    def accuracy(row: dict[str, Any]) -> str:
        return f"{row['test']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"

    numbers = {f"{name}: test accuracy ({spread})": accuracy(r) for name, r in by.items()}
    numbers.update({f"{name}: FLOPs / full's": round(ratio[name], 3) for name in by})
    numbers.update({f"{name}: seconds": round(r["seconds"], 1) for name, r in by.items()})
    numbers["LoRA: trained share of the weights"] = f"{lora['trainable_parameters'] / full['trainable_parameters']:.2%}"
    numbers["on the FLOPs front"] = ", ".join(sorted(front_flops))
    numbers["on the seconds front"] = ", ".join(sorted(front_seconds))
    sections = [
        Section(
            "1. What a training step costs",
            text=("A linear layer y = W x costs, per token, 2|W| FLOPs forward; backward, 2|W| for "
                  "the activation gradient W^T dL/dy, needed only where something below the layer "
                  "trains, and 2|W| for the weight gradient, only where W trains. Everything "
                  "trained: 6N for N weights. The head alone: 2N. LoRA: about 4N, because the "
                  "activation gradients still run down to the lowest adapter. Per token, from the "
                  "trainer's count (FLOPs forward / activation gradients / weight gradients):"),
            numbers={r["method"]: " / ".join(f"{v:.2e}" for v in r["flops_per_token"].values())
                     + f"  ({r['trainable_parameters']:,} of {r['total_parameters']:,} parameters trained)"
                     for r in rows},
        ),
        Section(
            "2. Learning rates, chosen on dev",
            text=(f"Every run: {size['epochs']} epoch of the 400 training sentences, batch "
                  f"{size['batch_size']}, seeds {', '.join(map(str, size['seeds']))}. Each method's rate "
                  + ("is the one an earlier two-rate comparison on dev chose (quick mode trains that rate only); "
                     if quick else "is the one with the best mean dev accuracy (80 sentences); ")
                  + "bf16 takes full's. "
                  + " ".join(notes)),
            numbers={r["method"]: ", ".join(f"{lr:.0e}: {acc:.3f}" for lr, acc in r["dev"].items())
                     + f"  -> {r['lr']:.0e}" for r in rows},
        ),
        Section(
            "3. Cost against accuracy, on test once",
            text=(f"Test accuracy on the 200 test sentences ({spread}) against the FLOPs and the "
                  "seconds the training loop took. A point is on the Pareto front when no other "
                  "is both as cheap and as accurate, and better in one of the two."),
            numbers=numbers,
            images=(plot,),
        ),
    ]
    claim, holds = verdict(rows, quick=quick)
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
