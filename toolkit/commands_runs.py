"""``ptm train``, ``ptm evaluate``, ``ptm predict`` and ``ptm report``: the commands that write a
run folder and use one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from toolkit.cli_errors import PtmUsageError, ptm_errors
from toolkit.cli_groups import plugin_manager
from toolkit.cli_options import DeclaredOption, data_column_options, option_value, pair_option, with_options
from toolkit.errors import PtmError
from toolkit.manager import PtmPluginManager
from toolkit.registry import PrivacySpec


def _privacy_options(privacy: str | None, given: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """The options for the privacy mechanism: the flags given, then each ``--privacy-option
    NAME=VALUE`` (as ``--option`` of ``ptm explain`` reads them). The mechanism's record
    checks names and values (toolkit.registry.PrivacySpec.options)."""
    if given and privacy is None:
        raise PtmUsageError("--privacy-option only applies with --privacy (e.g. --privacy dp-sgd --epsilon 8 "
                            "--privacy-option accountant=prv)")
    options = dict(flags)
    for item in given:
        key, sep, raw = item.partition("=")
        name = key.strip().replace("-", "_")
        if not sep or not name:
            raise PtmUsageError(f"--privacy-option '{item}' is not NAME=VALUE; write e.g. --privacy-option accountant=prv")
        if options.get(name) is not None:
            how = f"--{name.replace('_', '-')}" if name in flags else "--privacy-option"
            raise PtmUsageError(f"{name} is given both as {how} and as --privacy-option; give it once")
        options[name] = option_value(raw.strip())
    return options


@click.command("train")
@click.option("--model", default="minilm", show_default=True, help="Model id, folder or Hugging Face id.")
@click.option("--data", default=None, help="Dataset id, .tsv/.csv/.jsonl file or hf:NAME  [default: the task's data; reviews]")
@click.option("--task", default=None, help="Task id the data must be labelled for, e.g. pairs (ptm plugins list --all)  [default: the data's own]")
@click.option("--eval-data", default=None, help="Evaluate on this data instead of a held-out part of --data.")
@click.option("--trainer", default=None, help="Trainer id (ptm plugins list --all)  [default: the task's: finetune; tagger for tagging]. The defaults below are the built-in trainers'; a plugin's trainer has its own")
@click.option("--epochs", type=int, default=None, help="Passes over the data  [default: 1; 40 with --privacy; tagger: 3]")
@click.option("--batch-size", type=int, default=None, help="[default: 8; 256 with --privacy]")
@click.option("--lr", type=float, default=None, help="Peak learning rate (AdamW)  [default: 1e-4; 1e-2 with --privacy; tagger: 3e-4]")
@click.option("--max-length", type=int, default=None, help="Tokens kept per text  [default: 128; 64 with --privacy]")
@click.option("--trainable", default=None, help="Parameters to train: all, head, topN (e.g. top2) or lora  [default: all; head with --privacy]")
@click.option("--cache-frozen/--no-cache-frozen", default=None,
              help="Run the frozen layers (below the first trained one) once per example and reuse their output: the same function, far faster for --trainable head or topN  [default: on]")
@click.option("--limit", type=int, default=None, help="Train on at most N examples (a seeded sample).")
@click.option("--seed", type=int, default=None, help="[default: 42]")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--privacy", default=None, help="Train with a privacy mechanism, e.g. dp-sgd.")
@click.option("--epsilon", type=float, default=None, cls=DeclaredOption, records=PrivacySpec, help="Privacy budget epsilon for the whole run (with --privacy); inf for none.")
@click.option("--delta", type=float, default=None, cls=DeclaredOption, records=PrivacySpec, help="Privacy delta.")
@click.option("--max-grad-norm", type=float, default=None, cls=DeclaredOption, records=PrivacySpec, help="Per-example gradient clipping norm.")
@click.option("--privacy-option", multiple=True, metavar="NAME=VALUE", cls=DeclaredOption, records=PrivacySpec, declared="",
              help="An option of the --privacy mechanism, by the name it takes (repeat for more; any mechanism, a plugin's too).")
@click.option("--accountant", metavar="NAME", default=None, cls=DeclaredOption, records=PrivacySpec,
              help="Privacy accountant; the same as --privacy-option accountant=NAME.")
@click.option("--grad-sample-mode", metavar="MODE", default=None, cls=DeclaredOption, records=PrivacySpec,
              help="Per-example gradient engine; the same as --privacy-option grad_sample_mode=MODE.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder to create.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue an interrupted run folder from its last epoch, with its own settings.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_options(data_column_options)
def train_command(model: str, data: str | None, task: str | None, eval_data: str | None, trainer: str | None,
                  epochs: int | None,
                  batch_size: int | None, lr: float | None, max_length: int | None,
                  trainable: str | None, cache_frozen: bool | None, limit: int | None, seed: int | None, device: str,
                  privacy: str | None, epsilon: float | None, delta: float | None,
                  max_grad_norm: float | None, privacy_option: tuple[str, ...], accountant: str | None,
                  grad_sample_mode: str | None, out: Path | None, overwrite: bool, resume: Path | None,
                  quiet: bool, text_column: str | None, label_column: str | None) -> None:
    """Fine-tune a model on labelled text and write a run folder.

    With --privacy dp-sgd --epsilon E the run is (epsilon, delta)-differentially private.
    Ctrl-C stops after the current step and keeps the last epoch's checkpoint;
    --resume RUN_DIR continues from it.
    """
    from toolkit import pipeline

    pm = plugin_manager()
    ctx = click.get_current_context()
    if resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in ctx.params
                 if name not in ("resume", "quiet", "device")
                 and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise PtmUsageError(f"--resume takes the run's own settings; drop {', '.join(given)}")
        out = resume
    elif out is None:
        raise PtmUsageError("give --out RUN_DIR for the new run (or --resume RUN_DIR to continue one)")
    if privacy is not None and epsilon is None:
        raise PtmUsageError(f"--privacy {privacy} needs a budget: add --epsilon (e.g. --epsilon 8)")
    privacy_options = _privacy_options(privacy, privacy_option, epsilon=epsilon, delta=delta,
                                       max_grad_norm=max_grad_norm, accountant=accountant,
                                       grad_sample_mode=grad_sample_mode)
    try:
        with ptm_errors():
            if resume is not None:
                metrics = pipeline.resume(pm, resume, device=device, progress=not quiet)
                privacy = metrics.get("mechanism") if "epsilon" in metrics else None
            else:
                metrics = pipeline.train(
                    pm, model=model, data=data, out=out, overwrite=overwrite, eval_data=eval_data,
                    text_column=text_column, label_column=label_column, limit=limit, device=device,
                    privacy=privacy, task=task, trainer=trainer, privacy_options=privacy_options,
                    epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length, seed=seed,
                    trainable=trainable, cache_frozen=cache_frozen, progress=not quiet,
                )
    except KeyboardInterrupt:
        _report_interrupt(out)
        ctx.exit(130)
    from toolkit import distributed

    if not distributed.is_main():
        return  # rank 0 of a torchrun launch reports for all
    final = metrics["final"]
    click.echo(
        f"{_scores(pm, metrics.get('task'), final)}  (n={final['n']} held out)\n"
        f"{metrics['train_examples']} examples, {metrics['steps']} steps, "
        f"{metrics['examples_per_second']:.1f} examples/s, {metrics['train_seconds']:.1f} s "
        f"on {metrics['device']}" + (f" x {metrics['world_size']} processes" if metrics.get("world_size", 1) > 1 else "")
    )
    if privacy is not None:
        # A mechanism must report epsilon and delta; the rest is DP-SGD's and may be absent.
        details = [f"{label} {metrics[key]:{spec}}" for key, label, spec in (
            ("noise_multiplier", "noise multiplier", ".3f"), ("sample_rate", "sample rate", ".4f"))
            if isinstance(metrics.get(key), (int, float))]
        details.append(f"{metrics['steps']} steps")
        if metrics.get("accountant"):
            details.append(f"{metrics['accountant']} accountant")
        click.echo(
            f"privacy: ({metrics['epsilon']:.2f}, {metrics['delta']:.2g})-DP by {privacy} "
            f"({', '.join(details)})"
        )
    click.echo(f"run folder: {out}")


def _report_interrupt(out: Path) -> None:
    """Say what an interrupted training run kept, and how to continue it."""
    from toolkit.runs import RunFolder

    try:
        metrics = RunFolder(out).read_json("metrics.json", missing={})
    except PtmError:
        metrics = {}
    epoch = metrics.get("checkpoint_epoch") if isinstance(metrics, dict) else None
    if epoch is None:
        click.echo(f"ptm: interrupted before the first epoch ended; nothing to resume in {out}", err=True)
        return
    click.echo(
        f"ptm: interrupted; {out} keeps the checkpoint of epoch {epoch}: continue with "
        f"ptm train --resume {out}",
        err=True,
    )


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", required=True, help="Dataset id, .tsv/.csv/.jsonl file or hf:NAME.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_options(data_column_options)
def evaluate_command(run_dir: Path, data: str, device: str, as_json: bool,
                     text_column: str | None, label_column: str | None) -> None:
    """Score a trained run on labelled data with its task's metrics (text classification:
    accuracy, macro-F1; tagging: entity F1, precision, recall, token accuracy) and n."""
    from toolkit import pipeline

    pm = plugin_manager()
    with ptm_errors():
        scores = pipeline.evaluate(
            pm, run_dir, data=data, text_column=text_column,
            label_column=label_column, device=device,
        )
    if as_json:
        click.echo(json.dumps(scores))
    else:
        click.echo(f"{_scores(pm, scores.get('task'), scores)}  n {scores['n']}")


def _scores(pm: PtmPluginManager, task: str | None, scores: dict[str, Any]) -> str:
    """The task's metrics, in the task's order and with its labels, as one line
    (``accuracy 0.812  macro-F1 0.806``); every number when the task is unknown."""
    from toolkit.registry import TaskSpec

    spec = pm.registry.get(TaskSpec, task) if task and ("task", task) in pm.registry else None
    names = tuple(n for n in (spec.metrics if spec else ()) if isinstance(scores.get(n), (int, float))) or tuple(
        k for k, v in scores.items() if isinstance(v, float))
    return "  ".join(f"{spec.label_of(n) if spec else n} {scores[n]:.3f}" for n in names)


@click.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@with_options([pair_option])
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def predict_command(run_dir: Path, texts: tuple[str, ...], pairs: tuple[str, ...], device: str,
                    as_json: bool) -> None:
    """Label each TEXT with a trained run, with the label's probability."""
    from toolkit import pipeline

    with ptm_errors():
        rows = pipeline.predict(plugin_manager(), run_dir, texts, text_pairs=pairs or None, device=device)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for i, row in enumerate(rows):
        if "words" in row:  # a tagging run: one line per word, a blank line between texts
            if i:
                click.echo("")
            for word in row["words"]:
                click.echo(f"{word['tag']}\t{word['probability']:.3f}\t{word['word']}")
            continue
        pair = f"\t{row['text_pair']}" if "text_pair" in row else ""
        click.echo(f"{row['label']}\t{row['probability']:.3f}\t{row['text']}{pair}")


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="Page title  [default: from the run's command]")
def report_command(run_dir: Path, title: str | None) -> None:
    """Write RUN_DIR/report.html: one self-contained page with the run's numbers and plots."""
    from toolkit.report import write_report

    with ptm_errors():
        path = write_report(run_dir, title=title)
    click.echo(f"report: {path}")
