"""``ptm privacy mechanism``: release a query over a dataset with Laplace or Gaussian noise, and
check empirically that the (epsilon, delta) promise holds between the data and a neighbour."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptm_dp.mechanisms import DEFAULT_SAMPLES, MECHANISMS, QUERIES
from toolkit.cli import plugin_manager, ptm_errors


@click.command("mechanism")
@click.option(
    "--data",
    default="reviews",
    show_default=True,
    help="A dataset id, a .tsv/.csv/.jsonl file, or hf:NAME; every split is used.",
)
@click.option(
    "--query",
    type=click.Choice(list(QUERIES)),
    default="count",
    show_default=True,
    help="count: number of texts; mean-length: mean word count, clipped.",
)
@click.option(
    "--mechanism",
    type=click.Choice(list(MECHANISMS)),
    default="laplace",
    show_default=True,
    help="laplace: pure epsilon-DP; gaussian: (epsilon, delta)-DP (analytic Gaussian).",
)
@click.option("--epsilon", type=float, default=1.0, show_default=True, help="The privacy budget.")
@click.option(
    "--delta", type=float, default=None, help="Default: 0 for laplace, 1e-5 for gaussian."
)
@click.option(
    "--samples",
    type=int,
    default=DEFAULT_SAMPLES,
    show_default=True,
    help="Releases drawn on each of D and D'.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the noise.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the PNG of both output distributions.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the check as one JSON object.")
def mechanism_command(
    data: str,
    query: str,
    mechanism: str,
    epsilon: float,
    delta: float | None,
    samples: int,
    seed: int,
    out: Path,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Release a query with calibrated noise and look for a violation of its (epsilon, delta) bound.

    The mechanism runs many times on the data D and on a neighbour D' (one text removed for
    count, one replaced for mean-length); their output histograms are searched for a set S with
    P[M(D) in S] > e^epsilon P[M(D') in S] + delta. Such a check can find a violation (noise of
    the wrong scale), never certify DP: the guarantee comes from the calibration.
    """
    from ptm_dp.mechanisms import empirical_check, plot_check
    from ptm_dp.options import check_output_file, write_output
    from toolkit.pipeline import load_data

    with ptm_errors():
        # Refuse before spending any time, and leave the old file exactly as it was.
        check_output_file("--out", out, overwrite=overwrite)
        texts = [example.text for example in load_data(plugin_manager(), data).split("all")]
        check = empirical_check(
            texts,
            query=query,
            mechanism=mechanism,
            epsilon=epsilon,
            delta=delta,
            samples=samples,
            seed=seed,
        )
        write_output("--out", out, lambda path: plot_check(check, path))

    if as_json:
        click.echo(json.dumps({**check.to_dict(), "data": data, "plot": str(out)}))
        return
    click.echo(
        f"{query} on '{data}': {check.true_d:g} on D ({len(texts)} texts), "
        f"{check.true_d_prime:g} on its neighbour D' ({check.neighbours}); "
        f"sensitivity {check.sensitivity:.4g}"
    )
    noise = "Laplace scale b" if mechanism == "laplace" else "Gaussian sigma"
    click.echo(
        f"{noise} = {check.scale:.4g} (epsilon {check.epsilon:g}, delta {check.delta:g}), "
        f"{check.samples} releases on each of D and D'"
    )
    verdict = "no violation found" if check.bound_holds else "VIOLATION found"
    if mechanism == "laplace":
        click.echo(
            f"largest observed log ratio {check.max_log_ratio:.3f} vs epsilon {check.epsilon:g} "
            f"(+ sampling slack {check.log_ratio_slack:.3f}): {verdict}"
        )
    else:
        click.echo(
            f"mass where P[M(D)] > e^epsilon P[M(D')]: {check.excess_mass:.2g} vs delta "
            f"{check.delta:g} (+ sampling slack {check.excess_mass_slack:.2g}): {verdict}; "
            f"largest log ratio {check.max_log_ratio:.3f}"
        )
    click.echo(f"plot: {out}")
