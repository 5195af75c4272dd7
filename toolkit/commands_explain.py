"""``ptm explain``: attribute a trained run's predictions to words (``ptm explain RUN_DIR
TEXT...``) and compare explainers' faithfulness (``ptm explain evaluate``).

The explainer options a method takes are those its record declares
(:attr:`toolkit.registry.ExplainerSpec.options`): the flags below and ``--option`` show them
in their help, and the record checks their values before any model is loaded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from toolkit.cli_errors import PtmUsageError, ptm_errors
from toolkit.cli_groups import DefaultCommandGroup, plugin_manager
from toolkit.cli_options import DeclaredOption, data_column_options, pair_option, parse_options, with_options
from toolkit.registry import ExplainerSpec


def _write_new(path: Path, data: str, overwrite: bool) -> None:
    """Write a file atomically; refuse to replace one unless asked."""
    from toolkit.runs import write_text_atomic

    if path.exists() and not overwrite:
        raise PtmUsageError(f"{path} exists; choose another --output or pass --overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PtmUsageError(f"cannot write --output {path} ({error.filename}: {error.strerror}); "
                            "choose a place you can write") from None
    with ptm_errors():
        write_text_atomic(path, data)


@click.group("explain", cls=DefaultCommandGroup, default_command="text")
def explain_group() -> None:
    """Explain predictions: `ptm explain RUN_DIR TEXT...` (attributions per word), or
    `ptm explain evaluate RUN_DIR --data D` (faithfulness of several methods)."""


@explain_group.command("text")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@click.option("--method", default="ig", show_default=True, help="Explainer id (ptm plugins list --all).")
@click.option("--target", default=None, help="Class to explain, as index or label  [default: the predicted one]")
@click.option("--word", default=None, help="Tagging runs: the word whose tag to explain, by index (0 is the first) or as written.")
@click.option("--n-steps", type=int, default=None, cls=DeclaredOption, records=ExplainerSpec, takers=True,
              help="Steps along the path from the baseline to the text.")
@click.option("--delta-tolerance", type=float, default=None, cls=DeclaredOption, records=ExplainerSpec, takers=True,
              help="Raise the steps per sentence until |convergence delta| is below this.")
@click.option("--baseline", metavar="NAME", default=None, cls=DeclaredOption, records=ExplainerSpec, takers=True,
              help="What a token is compared with, or a removed word replaced by.")
@click.option("--n-samples", type=int, default=None, cls=DeclaredOption, records=ExplainerSpec, takers=True,
              help="Coalitions of words sampled.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "png"]), default="text", show_default=True)
@click.option("--level", type=click.Choice(["word", "token"]), default="word", show_default=True, help="Words or WordPiece tokens (html, png).")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write to this file (needed for png).")
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists.")
@click.option("--device", default="auto", show_default=True)
@with_options([pair_option])
@click.option(
    "--option", "extra_options", multiple=True, metavar="NAME=VALUE", cls=DeclaredOption, records=ExplainerSpec,
    declared="", help="An option of the explainer, by the name it takes (repeat for more; any explainer, a plugin's too).",
)
def explain_text(run_dir: Path, texts: tuple[str, ...], method: str, target: str | None, word: str | None,
                 n_steps: int | None, delta_tolerance: float | None, baseline: str | None,
                 n_samples: int | None, fmt: str, level: str, output: Path | None,
                 overwrite: bool, device: str, pairs: tuple[str, ...],
                 extra_options: tuple[str, ...]) -> None:
    """Attribute a trained run's prediction for each TEXT to its words (for a tagging run,
    the tag of one --word)."""
    from toolkit import explain_views, pipeline

    if fmt == "png" and output is None:
        raise PtmUsageError("--format png needs --output FILE.png")
    if output is not None and output.exists() and not overwrite:
        raise PtmUsageError(f"{output} exists; choose another --output or pass --overwrite")
    if output is not None and (output.is_dir() or any(p.exists() and not p.is_dir() for p in output.parents)):
        raise PtmUsageError(f"--output {output} cannot be a file there (a folder, or under a file); choose a file name in a folder")
    options = {"n_steps": n_steps, "delta_tolerance": delta_tolerance, "baseline": baseline,
               "n_samples": n_samples}
    for name, value in parse_options(extra_options).items():
        if options.get(name) is not None:
            raise PtmUsageError(f"{name} is given both as --{name.replace('_', '-')} and as --option; give it once")
        options[name] = value
    with ptm_errors():
        # The method's record checks the options before the run's model loads.
        plugin_manager().registry.get(ExplainerSpec, method).check_options(
            {name: value for name, value in options.items() if value is not None})
        explanations = pipeline.explain(plugin_manager(), run_dir, texts, method=method,
                                        target=target, text_pairs=pairs or None, device=device,
                                        word=word, **options)
        if fmt == "png":
            assert output is not None
            from toolkit.runs import write_atomic

            write_atomic(output, lambda tmp: explain_views.save_png(explanations, tmp, level=level))
            click.echo(f"wrote {output}", err=True)
            return
        if fmt == "json":
            text = json.dumps([e.to_dict() for e in explanations], indent=1) + "\n"
        elif fmt == "html":
            text = explain_views.as_html(explanations, level=level)
        else:
            color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            text = explain_views.as_text(explanations, color=color) + "\n"
            if output is None:
                text += "\n" + explain_views.text_legend(color=color) + "\n"
    if delta_tolerance is not None:
        steps = {e.options.get("n_steps") for e in explanations} - {None}
        if steps:
            summary = ", ".join(
                f"{n} steps: {sum(e.options.get('n_steps') == n for e in explanations)}" for n in sorted(steps)
            )
            click.echo(f"{method}: {summary} (|delta| < {delta_tolerance})", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_new(output, text, overwrite)
        click.echo(f"wrote {output}", err=True)


@explain_group.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", required=True, help="Dataset id or file; its rationales, if any, score plausibility.")
@click.option("--methods", default="ig,saliency,input-x-gradient,occlusion", show_default=True, help="Comma-separated explainer ids.")
@click.option("--limit", type=int, default=100, show_default=True, help="Sentences of the evaluation split to explain.")
@click.option("--sanity", type=int, default=16, show_default=True, help="Sentences for the model-randomisation check (0: skip).")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--option", "extra_options", multiple=True, metavar="METHOD.NAME=VALUE", cls=DeclaredOption, records=ExplainerSpec,
    declared="", help="An option of one method's explainer, e.g. ig.n_steps=16 or occlusion.baseline=mask (repeat for more).",
)
@with_options(data_column_options)
def explain_evaluate(run_dir: Path, data: str, methods: str, limit: int, sanity: int, device: str,
                     as_json: bool, quiet: bool, extra_options: tuple[str, ...], text_column: str | None,
                     label_column: str | None) -> None:
    """Compare explainers: ERASER comprehensiveness/sufficiency against random attributions,
    agreement with human rationales, and the model-randomisation sanity check."""
    from toolkit import pipeline

    names = [m.strip() for m in methods.split(",") if m.strip()]
    repeated = sorted({m for m in names if names.count(m) > 1})
    if repeated:
        raise PtmUsageError(f"--methods lists {', '.join(repeated)} twice; give each method once")
    if not names:
        raise PtmUsageError("--methods names no method; give e.g. --methods ig,occlusion")
    options = parse_options(extra_options, scoped=True)
    with ptm_errors():
        result = pipeline.explain_evaluate(
            plugin_manager(), run_dir, data=data, methods=names, limit=limit, sanity=sanity,
            device=device, text_column=text_column, label_column=label_column, options=options,
            progress=not quiet,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    columns = [("method", "{}"), ("comprehensiveness", "{:.3f}"), ("sufficiency", "{:.3f}"),
               ("plausibility_auprc", "{:.3f}"), ("plausibility_token_f1", "{:.3f}"),
               ("randomized_spearman", "{:.3f}"), ("seconds_per_sentence", "{:.3f}")]
    present = [(k, f) for k, f in columns if any(r.get(k) is not None for r in result["rows"])]
    click.echo("  ".join(f"{k:>{max(len(k), 10)}}" for k, _ in present))
    for row in result["rows"]:
        cells = [f.format(row[k]) if row.get(k) is not None else "-" for k, f in present]
        click.echo("  ".join(f"{c:>{max(len(k), 10)}}" for c, (k, _) in zip(cells, present)))
    click.echo(f"n {result['n']} sentences of {data}; comprehensiveness: higher is better; "
               "sufficiency: lower; randomized_spearman: near 0 is what a faithful method shows")
