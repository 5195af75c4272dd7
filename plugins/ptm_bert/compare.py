"""The value of pretraining (``ptm pretrain compare``): fine-tune from random weights, from a
pretrained run and from MiniLM on the same data and budget, one table and one plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.runs import recorded_ref

COMPARED = (
    ("random init", "scratch:{run}"),
    ("self-pretrained", "{run}"),
    ("MiniLM", "minilm"),
)


def compare(
    pm: Any,
    pretrained: str | Path,
    *,
    data: str = "reviews",
    out: str | Path,
    overwrite: bool = False,
    baseline: str = "minilm",
    **train_options: Any,
) -> dict[str, Any]:
    """Fine-tune three models on the same data with the same budget, one run folder each
    under ``out``: the pretrained run's architecture from random weights, the pretrained run
    itself, and ``baseline`` (MiniLM). Writes ``comparison.json`` and ``comparison.png``
    (held-out accuracy per epoch, one line per model) and returns the table.
    """
    from toolkit.runs import RunFolder

    from ptm_bert.models import model_folder, safe_source

    run = str(pretrained)
    if not (Path(model_folder(run)) / "config.json").is_file():
        raise ConfigError(f"{run} is not a pretrained model or run folder; give the --out of ptm pretrain")
    safe_source(model_folder(run))  # a damaged or tampered run is refused before the folder exists
    folder = RunFolder.create(out, overwrite=overwrite)
    with folder.claimed():
        return _compare(pm, folder, run, data=data, baseline=baseline, train_options=train_options)


def _compare(pm: Any, folder: Any, run: str, *, data: str, baseline: str,
             train_options: dict[str, Any]) -> dict[str, Any]:
    from toolkit.pipeline import train

    rows = []
    for (name, template), slug in zip(COMPARED, ("random-init", "self-pretrained", "baseline")):
        ref = template.format(run=run) if template != "minilm" else baseline
        metrics = train(pm, model=ref, data=data, out=folder.path / slug, **train_options)
        rows.append(
            {
                "model": name,
                "ref": ref,
                "run": str(folder.path / slug),
                "accuracy": metrics["accuracy"],
                "f1": metrics["f1"],
                "accuracy_per_epoch": [h["accuracy"] for h in metrics["history"]],
                "train_seconds": metrics["train_seconds"],
                "parameters": metrics.get("trainable_parameters"),
            }
        )
    result = {"pretrained": recorded_ref(run), "data": recorded_ref(data), "options": {k: v for k, v in train_options.items() if v is not None}, "rows": rows}
    comparison_plot(rows, folder.path / "comparison.png")
    folder.finish(result)
    folder.write_json("comparison.json", result)
    return result


def comparison_plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Held-out accuracy after each epoch of fine-tuning, one line per starting point."""
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for row, marker in zip(rows, "osd^v"):
        epochs = range(1, len(row["accuracy_per_epoch"]) + 1)
        ax.plot(epochs, row["accuracy_per_epoch"], marker=marker, label=f"{row['model']} ({row['accuracy']:.3f})")
    ax.set(title="fine-tuning from three starting points", xlabel="epoch", ylabel="held-out accuracy")
    ax.set_xticks(list(range(1, max(len(r["accuracy_per_epoch"]) for r in rows) + 1)))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
