"""``ptm privacy``: the mechanisms, the privacy-utility sweep and the membership-inference audit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptm_dp.mechanism_command import mechanism_command
from toolkit.cli import plugin_manager, ptm_errors
from toolkit.errors import ConfigError


@click.group("privacy")
def privacy_group() -> None:
    """Differential privacy: mechanisms, DP-SGD sweeps and membership-inference audits."""


privacy_group.add_command(mechanism_command)


@privacy_group.command("sweep")
@click.option("--model", default="minilm", show_default=True, help="Model id, folder or hub id.")
@click.option("--data", default="reviews", show_default=True, help="Dataset id or file.")
@click.option("--epsilons", default="1,3,8,inf", show_default=True, help="Comma-separated; inf = no noise.")
@click.option("--limit", type=int, default=None, help="Train on at most N examples.")
@click.option("--eval-data", default=None, help="Evaluate on this data instead of a held-out part.")
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None)
@click.option("--trainable", default=None, help="all, head, topN or lora; several, comma-separated, give the strategy table.")
@click.option("--seed", type=int, default=None)
@click.option("--device", default="auto", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the runs, sweep.json and sweep.png.")
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def sweep_command(model: str, data: str, epsilons: str, limit: int | None, eval_data: str | None,
                  epochs: int | None, batch_size: int | None, lr: float | None,
                  trainable: str | None, seed: int | None, device: str, out: Path,
                  overwrite: bool, quiet: bool, as_json: bool) -> None:
    """Train one model per epsilon (and per --trainable strategy) and plot accuracy against
    epsilon (PNG + JSON)."""
    from ptm_dp.sweep import parse_epsilons, parse_trainables, sweep

    with ptm_errors():
        result = sweep(
            plugin_manager(), epsilons=parse_epsilons(epsilons), out=out, overwrite=overwrite,
            model=model, data=data, limit=limit, eval_data=eval_data, device=device,
            epochs=epochs, batch_size=batch_size, lr=lr, trainables=parse_trainables(trainable),
            seed=seed, progress=not quiet,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(" trainable  parameters  target epsilon  epsilon spent  accuracy  seconds")
    for row in result["runs"]:
        click.echo(f"{row['trainable']:>10}  {row['trainable_parameters']:>10,}  {row['target_epsilon']:>14g}  "
                   f"{row['epsilon']:>13.3g}  {row['accuracy']:>8.3f}  {row['seconds']:>7.1f}")
    click.echo(f"plot: {out / 'sweep.png'}")


@privacy_group.command("audit")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--members", default=None, help="Training data (default: the run's own training examples).")
@click.option("--non-members", default=None, help="Unseen data (default: the run's held-out examples).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the ROC plot (default: RUN_DIR/audit_roc.png).")
@click.option("--fpr", "fprs", default=None,
              help="False-positive rates to report the TPR at, comma-separated (e.g. 0.01,0.05); each "
                   "needs 5/rate non-members. Default: those of 0.001, 0.01, 0.05 the non-members support.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def audit_command(run_dir: Path, members: str | None, non_members: str | None, plot: Path | None,
                  fprs: str | None, device: str, as_json: bool) -> None:
    """Membership inference on a trained run: a loss-threshold attack (Yeom et al. 2018).

    Reports ROC AUC and the true-positive rate at 0.1%, 1% and 5% false positives, each only
    where the non-members give at least 5 false positives, with 95% bootstrap intervals and a
    ROC plot.
    """
    from ptm_dp.audit import MIN_FALSE_POSITIVES, audit_run, plot_roc
    from ptm_dp.options import check_output_file, comma_list, write_output

    with ptm_errors():
        # Refused before the (slow) attack, leaving every file as it was.
        rates = None if fprs is None else comma_list("--fpr", fprs, _rate, item="rate", example="0.01,0.05")
        if plot is not None:
            check_output_file("--plot", plot)
        result, folder = audit_run(plugin_manager(), run_dir, members=members,
                                   non_members=non_members, device=device, fprs=rates)
        target = plot or folder.path / "audit_roc.png"
        write_output("--plot", target,
                     lambda path: plot_roc(result, path, title=f"membership inference on {folder.path.name}"))
        folder.write_json("audit.json", result.to_dict())
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "plot": str(target)}))
        return
    low, high = result.auc_interval
    lines = [f"attack AUC {result.auc:.3f} (95% interval {low:.3f}-{high:.3f}) on {result.members} "
             f"members vs {result.non_members} non-members (0.5 = guessing)"]
    for rate, tpr in result.tpr_at_fpr.items():
        lo, hi = result.tpr_interval[rate]
        lines.append(f"TPR at {float(rate):.1%} FPR {tpr:.3f} (95% interval {lo:.3f}-{hi:.3f})")
    lines += [
        f"(a TPR is reported at FPRs of {result.lowest_fpr:.2%} and up: {MIN_FALSE_POSITIVES} false "
        f"positives among {result.non_members} non-members)",
        f"mean loss: members {result.member_loss:.3f}, non-members {result.non_member_loss:.3f}",
        f"ROC plot: {target}",
    ]
    click.echo("\n".join(lines))


def _rate(text: str) -> float:
    """One false-positive rate of ``--fpr``: a number strictly between 0 and 1."""
    try:
        rate = float(text)
    except ValueError:
        raise ConfigError(f"--fpr: '{text}' is not a number; write e.g. --fpr 0.01,0.05") from None
    if not 0 < rate < 1:
        raise ConfigError(f"--fpr: a false-positive rate lies strictly between 0 and 1, got {text}; "
                          "write e.g. --fpr 0.01,0.05")
    return rate


@privacy_group.command("accountants")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def accountants_command(run_dir: Path, as_json: bool) -> None:
    """The epsilon of a private run under each Opacus accountant (RDP, PRV, GDP).

    Same noise multiplier, sample rate, steps and delta: only the analysis differs. RDP is an
    upper bound, PRV a tighter numerical one, GDP a central-limit approximation.
    """
    from toolkit.runs import RunFolder

    from ptm_dp.dpsgd import accountant_epsilons

    with ptm_errors():
        metrics = RunFolder.open(run_dir).read_json("metrics.json")
        try:
            rows = accountant_epsilons(metrics)
        except ConfigError as error:
            raise ConfigError(f"{run_dir}: {error}") from None
    result = {"epsilon": rows, "used": metrics.get("accountant"), "delta": metrics["delta"],
              "noise_multiplier": metrics["noise_multiplier"], "sample_rate": metrics["sample_rate"],
              "steps": metrics["steps"]}
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"noise multiplier {result['noise_multiplier']:.3f}, sample rate {result['sample_rate']:.4g}, "
               f"{result['steps']} steps, delta {result['delta']:.3g}")
    from ptm_dp.dpsgd import ACCOUNTANTS as notes

    for name, value in rows.items():
        mark = ", the run's accountant" if name == result["used"] else ""
        click.echo(f"{name:>4}  epsilon {value:.3f}  ({notes[name]}{mark})")
