"""The `private-and-explainable` lesson, headless: what DP-SGD does to a model's explanations.

Train the classification head of MiniLM privately (epsilon 8) and its non-private twin (the
same parameters and settings, no clipping or noise), each with two seeds; explain the same
held-out reviews with integrated gradients; compare the word rankings (Spearman) between the
models and measure how faithful each model's explanations are (ERASER comprehensiveness and
sufficiency against random scores, agreement with human rationales).

Public API only: ``toolkit.pipeline`` and ``toolkit.faithfulness``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

# The privacy lesson's learning rate for DP on the head (NOTES.md, session 4).
HEAD_LR = 5e-2


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from toolkit import faithfulness as ff
    from toolkit import explain_views, pipeline
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    epochs = 5 if quick else 10
    # name -> (epsilon, seed)
    models = {"private": (8.0, 42), "twin": (math.inf, 42), "twin, seed 1": (math.inf, 1)}
    if not quick:
        models.update({"private, seed 1": (8.0, 1), "private at epsilon 1": (1.0, 42)})
    accuracy, epsilon_spent = {}, {}
    for name, (epsilon, seed) in models.items():
        metrics = pipeline.train(
            pm, model="minilm", data="reviews", out=out / _folder(name), device=device,
            privacy="dp-sgd", privacy_options={"epsilon": epsilon}, trainable="head", lr=HEAD_LR,
            epochs=epochs, seed=seed, progress=progress,
        )
        accuracy[name], epsilon_spent[name] = metrics["accuracy"], metrics["epsilon"]
    sections = [Section(
        "1. Private models and their twins",
        text=(f"MiniLM's classification head trained on the 480 training reviews for {epochs} epochs "
              "with DP-SGD (batch 256, clipping norm 1, delta 1/N); each twin has the same settings "
              "without clipping or noise (epsilon inf). A second seed changes the initial head, the "
              "sampled batches and the noise: it shows how much of any difference is chance."),
        numbers={name: f"accuracy {accuracy[name]:.3f}, epsilon {_eps(epsilon_spent[name])}" for name in models},
    )]

    # 2. The same held-out sentences, explained by every model.
    examples = pipeline.load_data(pm, "reviews").evaluation_split()[: 24 if quick else 100]
    texts = [e.text for e in examples]
    explained = {name: pipeline.explain(pm, out / _folder(name), texts, method="ig", n_steps=32, device=device)
                 for name in models}
    pairs = [("private", "twin"), ("twin", "twin, seed 1")]
    if not quick:
        pairs += [("private", "private, seed 1"), ("private at epsilon 1", "twin")]
    agreement = {f"{a} vs {b}": ff.rank_agreement(explained[a], explained[b]) for a, b in pairs}
    shown = texts[:3]
    explain_views.save_png([e for name in ("twin", "private") for e in explained[name][:3]], out / "side_by_side.png")
    sections.append(Section(
        "2. Do they explain alike?",
        text=(f"Integrated gradients (32 steps, [PAD] baseline) on {len(texts)} test reviews; for each "
              "pair of models, the Spearman correlation of their word scores, averaged over the "
              "sentences (1: the same ranking; 0: unrelated). The picture shows the first three "
              "reviews, the non-private twin's scores above the private model's:\n\n"
              + "\n".join(f"- {t}" for t in shown)),
        numbers={k: round(v, 3) for k, v in agreement.items()},
        images=(out / "side_by_side.png",),
    ))

    # 3. Are the private model's explanations still faithful?
    rationales = [e.rationale for e in examples]
    faithful = {}
    for name in models:
        _, fitter = pipeline.open_run(pm, out / _folder(name), device=device)
        scorer = ff.model_scorer(fitter.model, fitter.tokenizer)
        faithful[name] = {
            "comprehensiveness": ff.comprehensiveness(scorer, explained[name]),
            "sufficiency": ff.sufficiency(scorer, explained[name]),
            "random comprehensiveness": ff.comprehensiveness(scorer, ff.random_explanations(explained[name])),
            "auprc": ff.plausibility(explained[name], rationales)["auprc"] if any(rationales) else None,
        }
    sections.append(Section(
        "3. Faithful, each to its own model?",
        text=("Comprehensiveness: how much the model's confidence drops when the words IG ranks "
              "highest are deleted (random scores give the floor). Sufficiency: how much it drops "
              "when only they are kept. AUPRC: agreement with the words people marked as the reason."),
        numbers={name: ", ".join(
            [f"comprehensiveness {f['comprehensiveness']:.3f} (random {f['random comprehensiveness']:.3f})",
             f"sufficiency {f['sufficiency']:.3f}"]
            + ([f"AUPRC {f['auprc']:.3f}"] if f["auprc"] is not None else [])) for name, f in faithful.items()},
    ))

    private_vs_twin, seed_vs_seed = agreement["private vs twin"], agreement["twin vs twin, seed 1"]
    holds = (private_vs_twin < seed_vs_seed
             and faithful["private"]["comprehensiveness"] > faithful["private"]["random comprehensiveness"])
    numbers = {
        "accuracy, private / twin": f"{accuracy['private']:.3f} / {accuracy['twin']:.3f}",
        "rank agreement, private vs twin": round(private_vs_twin, 3),
        "rank agreement, twin vs twin with another seed": round(seed_vs_seed, 3),
        "private comprehensiveness (random)":
            f"{faithful['private']['comprehensiveness']:.3f} ({faithful['private']['random comprehensiveness']:.3f})",
        "twin comprehensiveness (random)":
            f"{faithful['twin']['comprehensiveness']:.3f} ({faithful['twin']['random comprehensiveness']:.3f})",
    }
    claim = (f"DP-SGD changes what the model attends to by more than chance does: on held-out reviews "
             f"the private model's IG word ranking agrees less with its non-private twin's (Spearman "
             f"{private_vs_twin:.2f}) than two non-private seeds agree with each other "
             f"({seed_vs_seed:.2f}), yet its explanations stay faithful to it (comprehensiveness "
             f"{faithful['private']['comprehensiveness']:.3f} against "
             f"{faithful['private']['random comprehensiveness']:.3f} for random scores).")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)


def _folder(name: str) -> str:
    return name.replace(",", "").replace(" ", "-")


def _eps(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"
