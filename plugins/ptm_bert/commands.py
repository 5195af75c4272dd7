"""``ptm pretrain`` (masked-language-model pretraining and the three-way comparison) and
``ptm predict-mask`` (what a pretrained model fills in)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolkit.cli import DefaultCommandGroup, plugin_manager, ptm_errors


@click.group("pretrain", cls=DefaultCommandGroup, default_command="run")
def pretrain_group() -> None:
    """Pretrain a BERT on unlabelled text (`ptm pretrain --corpus C --out DIR`), or compare
    fine-tuning from random weights, from that run and from MiniLM (`ptm pretrain compare`)."""


@pretrain_group.command("run")
@click.option("--corpus", default="reviews", show_default=True, help="A .txt file (one document per line) or any dataset --data takes (labels dropped).")
@click.option("--model", default="tiny-bert", show_default=True, help="tiny-bert, mini-bert or a BERT config.json (random weights); a model/run folder, minilm or a hub id (continue from its weights).")
@click.option("--steps", type=int, default=None, help="Optimizer steps  [default: one epoch]")
@click.option("--epochs", type=int, default=None, help="Passes over the corpus (instead of --steps).")
@click.option("--mlm-probability", type=float, default=None, help="Share of tokens to predict  [default: 0.15]")
@click.option("--max-length", type=int, default=None, help="Tokens kept per document  [default: 64]")
@click.option("--batch-size", type=int, default=None, help="[default: 128]")
@click.option("--lr", type=float, default=None, help="Peak learning rate (AdamW)  [default: 1e-3]")
@click.option("--tokenizer", type=click.Choice(["bert-uncased", "train"]), default=None, help="BERT's uncased WordPiece vocabulary, or train one on the corpus  [default: bert-uncased]")
@click.option("--vocab-size", type=int, default=None, help="With --tokenizer train  [default: 8000]")
@click.option("--seed", type=int, default=None, help="[default: 42]")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder to create.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def pretrain_command(corpus: str, model: str, steps: int | None, epochs: int | None,
                     mlm_probability: float | None, max_length: int | None, batch_size: int | None,
                     lr: float | None, tokenizer: str | None, vocab_size: int | None,
                     seed: int | None, device: str, out: Path, overwrite: bool, quiet: bool) -> None:
    """Masked-language-model pretraining on unlabelled text; writes a run folder whose model
    `ptm train --model RUN_DIR` fine-tunes and `ptm predict-mask RUN_DIR` queries."""
    from ptm_bert.pretrain import pretrain

    with ptm_errors():
        metrics = pretrain(
            plugin_manager(), corpus=corpus, model=model, out=out, overwrite=overwrite, device=device,
            steps=steps, epochs=epochs, mlm_probability=mlm_probability, max_length=max_length,
            batch_size=batch_size, lr=lr, tokenizer=tokenizer, vocab_size=vocab_size, seed=seed,
            progress=not quiet,
        )
    click.echo(
        f"held-out masked-token accuracy {metrics['initial_masked_accuracy']:.3f} -> {metrics['masked_accuracy']:.3f}, "
        f"loss {metrics['initial_held_out_loss']:.2f} -> {metrics['held_out_loss']:.2f} "
        f"({metrics['held_out_documents']} held-out documents)\n"
        f"{metrics['steps']} steps ({metrics['epochs']:g} epochs), {metrics['tokens_seen']:,} tokens, "
        f"{metrics['tokens_per_second']:.0f} tokens/s, {metrics['train_seconds']:.1f} s on {metrics['device']}"
    )
    click.echo(f"run folder: {out}")


@pretrain_group.command("compare")
@click.argument("pretrained", type=click.Path(path_type=Path))
@click.option("--data", default="reviews", show_default=True, help="Labelled data to fine-tune on.")
@click.option("--eval-data", default=None, help="Evaluate on this data instead of a held-out part of --data.")
@click.option("--baseline", default="minilm", show_default=True, help="The third model: a large pretrained one.")
@click.option("--limit", type=int, default=None, help="Fine-tune on at most N examples.")
@click.option("--epochs", type=int, default=3, show_default=True)
@click.option("--batch-size", type=int, default=None, help="[default: 8]")
@click.option("--lr", type=float, default=None, help="[default: 1e-4]")
@click.option("--max-length", type=int, default=None, help="[default: 128]")
@click.option("--seed", type=int, default=None, help="[default: 42]")
@click.option("--device", default="auto", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the three runs, comparison.json and comparison.png.")
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as one JSON object.")
def compare_command(pretrained: Path, data: str, eval_data: str | None, baseline: str, limit: int | None,
                    epochs: int, batch_size: int | None, lr: float | None, max_length: int | None,
                    seed: int | None, device: str, out: Path, overwrite: bool, quiet: bool,
                    as_json: bool) -> None:
    """Fine-tune from random weights, from PRETRAINED and from MiniLM on the same data and
    budget: one table, one plot (accuracy per epoch)."""
    from ptm_bert.compare import compare

    with ptm_errors():
        result = compare(
            plugin_manager(), pretrained, data=data, out=out, overwrite=overwrite, baseline=baseline,
            eval_data=eval_data, limit=limit, epochs=epochs, batch_size=batch_size, lr=lr,
            max_length=max_length, seed=seed, device=device, progress=not quiet,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo("           model  accuracy  per epoch               seconds")
    for row in result["rows"]:
        per_epoch = " ".join(f"{a:.3f}" for a in row["accuracy_per_epoch"])
        click.echo(f"{row['model']:>16}  {row['accuracy']:>8.3f}  {per_epoch:<22}  {row['train_seconds']:>7.1f}")
    click.echo(f"plot: {out / 'comparison.png'}")


@click.command("predict-mask")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@click.option("--top-k", type=int, default=5, show_default=True, help="Candidates per [MASK].")
@click.option("--json", "as_json", is_flag=True, help="Print the candidates as JSON.")
def predict_mask_command(run_dir: Path, texts: tuple[str, ...], top_k: int, as_json: bool) -> None:
    """The words a pretrained model puts in each [MASK]: `ptm predict-mask RUN "the film was [MASK] ."`."""
    from ptm_bert.fill_mask import predict_mask

    with ptm_errors():
        results = predict_mask(run_dir, texts, top_k=top_k)
    if as_json:
        click.echo(json.dumps(results))
        return
    for result in results:
        click.echo(result["text"])
        for k, candidates in enumerate(result["masks"], start=1):
            shown = "  ".join(f"{c['token']} {c['probability']:.3f}" for c in candidates)
            click.echo(f"  [MASK] {k}: {shown}")
