"""The privacy-utility curve: one DP-SGD run per epsilon, accuracy against epsilon."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from ptm_dp.options import comma_list
from toolkit.errors import ConfigError


def parse_epsilons(text: str) -> list[float]:
    """``"1,3,8,inf"`` -> [1.0, 3.0, 8.0, inf]; each must be > 0, and given once."""

    def epsilon(part: str) -> float:
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(f"--epsilons: '{part}' is not a number; write e.g. 1,3,8,inf") from None
        if not value > 0:
            raise ConfigError(f"--epsilons: every epsilon must be > 0, got {part}")
        return value

    return sorted(comma_list("--epsilons", text, epsilon, item="epsilon", example="1,3,8,inf"))


def run_name(epsilon: float, trainable: str | None = None) -> str:
    name = "eps-inf" if math.isinf(epsilon) else f"eps-{epsilon:g}"
    return f"{trainable}-{name}" if trainable else name


def parse_trainables(text: str | None) -> list[str | None]:
    """``"head,lora"`` -> ["head", "lora"]; None -> [None] (the mechanism's default)."""
    if text is None:
        return [None]
    return list(comma_list("--trainable", text, str, item="strategy", example="head,top2,lora,all"))


def sweep(pm: Any, *, epsilons: list[float], out: str | Path, overwrite: bool = False,
          privacy: str = "dp-sgd", privacy_options: dict[str, Any] | None = None,
          trainables: list[str | None] | None = None, **train_options: Any) -> dict[str, Any]:
    """Train one run per (trainable strategy, epsilon) under ``out``.

    ``inf`` is the same training with no noise or clipping. Every run uses the privacy
    mechanism's defaults for the hyper-parameters not given, so the non-private reference trains
    the same parameters for the same number of epochs. With several strategies
    (``trainables``: head, topN, lora, all) the result is the lesson's table: accuracy, epsilon
    and seconds per strategy.
    """
    from toolkit import pipeline
    from toolkit.runs import RunFolder, write_json_atomic

    trainables = trainables or [None]
    named = len(trainables) > 1
    check_budgets(pm, epsilons, privacy=privacy, privacy_options=privacy_options, **train_options)
    folder = RunFolder.create(out, overwrite=overwrite)
    with folder.claimed():  # released however the sweep ends
        rows = []
        for trainable in trainables:
            for epsilon in epsilons:
                name = run_name(epsilon, trainable if named else None)
                started = time.perf_counter()
                metrics = pipeline.train(
                    pm, out=folder.path / name, privacy=privacy,
                    privacy_options={**(privacy_options or {}), "epsilon": epsilon},
                    trainable=trainable, **train_options,
                )
                rows.append(
                    {
                        "trainable": metrics.get("trainable"),
                        "trainable_parameters": metrics.get("trainable_parameters"),
                        "target_epsilon": epsilon,
                        "epsilon": metrics.get("epsilon"),
                        "delta": metrics.get("delta"),
                        "noise_multiplier": metrics.get("noise_multiplier"),
                        "accuracy": metrics["accuracy"],
                        "f1": metrics["f1"],
                        "seconds": time.perf_counter() - started,
                        "run": name,
                    }
                )
        result = {"status": "finished", "runs": rows, "privacy": privacy}
        plot_sweep(rows, folder.path / "sweep.png")
        write_json_atomic(folder.path / "sweep.json", result)
    return result


def check_budgets(pm: Any, epsilons: list[float], *, privacy: str,
                  privacy_options: dict[str, Any] | None = None, **train_options: Any) -> None:
    """Refuse, before the sweep's folder exists, a budget one of its runs would refuse.

    Every epsilon builds its mechanism (which checks the number alone); the smallest finite
    one, the most noise of the sweep, is also planned on the data and schedule the runs will
    use: if it can be reached, every larger one can.
    """
    from toolkit import pipeline
    from toolkit.registry import PrivacySpec

    spec = pm.registry.get(PrivacySpec, privacy)
    finite = [e for e in epsilons if math.isfinite(e)]
    try:
        mechanisms = {e: spec.load()(**{**(privacy_options or {}), "epsilon": e}) for e in finite}
    except ConfigError as error:
        raise ConfigError(f"--epsilons: {error}") from None
    hyper = {**spec.defaults, **{k: v for k, v in train_options.items() if v is not None}}
    if not finite or not {"batch_size", "epochs"} <= set(hyper):
        return  # nothing to plan, or a schedule only the trainer knows: its runs will check
    for name in ("batch_size", "epochs"):
        if not hyper[name] > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {hyper[name]}")
    dataset = pipeline.load_data(pm, train_options.get("data") or pipeline.DEFAULT_DATA)
    rows, _ = pipeline.training_split(dataset, seed=int(hyper.get("seed", 42)), limit=train_options.get("limit"))
    mechanisms[min(finite)].plan(len(rows), hyper["batch_size"], hyper["epochs"])


def plot_sweep(rows: list[dict[str, Any]], path: Path) -> Path:
    """Accuracy against epsilon (log axis); the non-private run as a dashed line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 4), dpi=120)
    axes = figure.subplots()
    strategies = list(dict.fromkeys(r.get("trainable") for r in rows))
    for k, strategy in enumerate(strategies):
        color = f"C{k}"
        mine = [r for r in rows if r.get("trainable") == strategy]
        label = f"DP-SGD, {strategy}" if len(strategies) > 1 else "DP-SGD"
        finite = [r for r in mine if math.isfinite(r["target_epsilon"])]
        if finite:
            axes.plot([r["target_epsilon"] for r in finite], [r["accuracy"] for r in finite], "o-",
                      color=color, label=label)
            for r in finite:
                axes.annotate(f"{r['accuracy']:.3f}", (r["target_epsilon"], r["accuracy"]),
                              textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
            axes.set_xscale("log")
        for r in mine:
            if not math.isfinite(r["target_epsilon"]):
                axes.axhline(r["accuracy"], ls="--", color=color if len(strategies) > 1 else "grey",
                             label=f"no privacy{', ' + str(strategy) if len(strategies) > 1 else ''} "
                                   f"({r['accuracy']:.3f})")
    axes.set_xlabel("epsilon (log scale)")
    axes.set_ylabel("held-out accuracy")
    axes.set_ylim(0, 1.02)
    axes.set_title("privacy-utility trade-off")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return path
