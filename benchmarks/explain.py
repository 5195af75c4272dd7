"""Explanation speed: the toolkit's integrated gradients against the plain Captum loop.

MiniLM-L6 is fine-tuned briefly (one epoch on --train SST-2 phrases), then both explain the same
--n SST-2 dev sentences, predicted class as target, [PAD] baseline:

- plain: the textbook loop, one ``LayerIntegratedGradients.attribute`` call per sentence with
  n_steps 50 (Gauss-Legendre, Captum's default) and ``return_convergence_delta=True``;
- toolkit: ``ptm_captum.explainers.IntegratedGradientsExplainer`` with a delta tolerance:
  one batched forward pass for all predictions and baseline logits, then per sentence the
  fewest steps (from 8, raised 1.5x at a time) that bring |delta| under the tolerance.

    python benchmarks/explain.py [--n 100] [--train 1000] [--tolerance 0.01] [--oracle]

Prints one JSON line: sentences/s of both, their ratio, the largest |delta| of each, and how
many steps the toolkit needed per sentence. ``--oracle`` adds what no step-choosing scheme can
beat: for each sentence the fewest Gauss-Legendre steps (on a grid of even numbers) that meet
the tolerance, as if they were known in advance, and the speed-up that would give in gradient
points alone (50 per sentence for the plain loop against the oracle's mean).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

from ptm_bert.models import load_minilm
from ptm_bert.trainer import FineTuner
from ptm_captum.explainers import IntegratedGradientsExplainer
from ptm_textdata.files import load_file

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(model, tokenizer, texts: list[str], n_steps: int = 50) -> tuple[float, float]:
    """One Captum call per sentence, as the Captum BERT tutorial writes it."""
    from captum.attr import LayerIntegratedGradients

    def forward(ids, mask):
        return model(input_ids=ids, attention_mask=mask).logits

    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    worst = 0.0
    start = time.perf_counter()
    for text in texts:
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=128)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        with torch.no_grad():
            target = int(forward(ids, mask).argmax(-1))
        special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
        baseline = torch.where(special, ids, torch.full_like(ids, tokenizer.pad_token_id))
        _, delta = lig.attribute(
            ids, baselines=baseline, target=target, additional_forward_args=(mask,),
            n_steps=n_steps, return_convergence_delta=True,
        )
        worst = max(worst, float(delta.abs().max()))
    return time.perf_counter() - start, worst


def oracle_steps(model, tokenizer, texts: list[str], tolerance: float, grid=tuple(range(4, 66, 2))) -> list[int]:
    """The fewest steps on ``grid`` at which each sentence's |delta| is under ``tolerance``."""
    fewest = []
    for text in texts:
        for steps in grid:
            explainer = IntegratedGradientsExplainer(model, tokenizer, n_steps=steps)
            [explanation] = explainer.explain([text])
            if abs(explanation.delta) < tolerance:
                break
        fewest.append(steps)
    return fewest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="dev sentences to explain")
    parser.add_argument("--train", type=int, default=1000, help="SST-2 phrases to fine-tune on")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--oracle", action="store_true", help="also find each sentence's fewest steps (slow)")
    args = parser.parse_args()

    torch.manual_seed(0)
    train = load_file(ref=args.data / "train.tsv").split("all")[: args.train]
    dev = load_file(ref=args.data / "dev.tsv").split("all")[: args.n]
    fitter = FineTuner(load_minilm(num_labels=2), device="cpu")
    fitter.fit(train, dev, {"max_length": 64, "progress": False})
    model, tokenizer = fitter.model.eval(), fitter.tokenizer
    texts = [e.text for e in dev]

    plain_seconds, plain_delta = plain_loop(model, tokenizer, texts)
    explainer = IntegratedGradientsExplainer(model, tokenizer, delta_tolerance=args.tolerance)
    start = time.perf_counter()
    explanations = explainer.explain(texts)
    toolkit_seconds = time.perf_counter() - start
    steps: dict[int, int] = {}
    for e in explanations:
        steps[e.options["n_steps"]] = steps.get(e.options["n_steps"], 0) + 1
    oracle = {}
    if args.oracle:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the under-stepped tries warn by design
            fewest = oracle_steps(model, tokenizer, texts, args.tolerance)
        oracle = {"oracle_mean_steps": round(sum(fewest) / len(fewest), 2),
                  "oracle_max_speedup_in_points": round(50 / (sum(fewest) / len(fewest)), 2)}
    print(json.dumps({
        "sentences": len(texts),
        "plain_sentences_per_s": round(len(texts) / plain_seconds, 2),
        "toolkit_sentences_per_s": round(len(texts) / toolkit_seconds, 2),
        "speedup": round(plain_seconds / toolkit_seconds, 2),
        "plain_n_steps": 50,
        "plain_max_abs_delta": round(plain_delta, 5),
        "toolkit_max_abs_delta": round(max(abs(e.delta) for e in explanations), 5),
        "toolkit_tolerance": args.tolerance,
        "toolkit_steps": {str(k): v for k, v in sorted(steps.items())},
        "threads": torch.get_num_threads(),
        **oracle,
    }))


if __name__ == "__main__":
    main()
