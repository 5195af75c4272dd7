"""The `private-and-explainable` lesson, headless: what DP-SGD does to a model's explanations.

Train the classification head of MiniLM privately (epsilon 8) and its non-private twin (the
same parameters and settings, no clipping or noise), and a twin with another seed as the
yardstick for chance (the full run: a private model and its twin for each of three seeds);
explain the same test reviews with integrated gradients, always for the logit difference
z_pos - z_neg so that a model's accuracy alone cannot move the comparison; compare the word
rankings (Spearman) review by review, with a paired bootstrap interval (quick) or the mean and
spread over seeds (full); and measure how faithful each model's explanations of its own
predictions are (ERASER comprehensiveness and sufficiency against random scores, agreement with
human rationales).

Public API only: ``toolkit.pipeline`` and ``toolkit.faithfulness``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from ptm_course.privacy import LESSON_RUN  # the same run settings as the privacy lesson's models

# The privacy lesson's learning rate for DP on the head (NOTES.md, session 4).
HEAD_LR = 5e-2
N_STEPS = 32


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    import numpy as np
    from scipy import stats

    from toolkit import explain_views, pipeline
    from toolkit import faithfulness as ff
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    epochs = 5 if quick else 10
    seeds = (42,) if quick else (42, 1, 2)
    models: dict[str, tuple[float, int]] = {}  # name -> (epsilon, seed)
    for seed in seeds:
        models[f"private{_suffix(seed)}"] = (8.0, seed)
        models[f"twin{_suffix(seed)}"] = (math.inf, seed)
    if quick:
        models["twin, seed 1"] = (math.inf, 1)  # the yardstick for chance
    trained, metrics = {}, {}
    for name, (epsilon, seed) in models.items():
        metrics = pipeline.train(
            pm, model="minilm", data="reviews", out=out / _folder(name), device=device,
            privacy="dp-sgd", privacy_options={"epsilon": epsilon}, trainable="head", lr=HEAD_LR,
            epochs=epochs, seed=seed, progress=progress,
            **LESSON_RUN,
        )
        trained[name] = metrics
    n_train = metrics["train_examples"]
    sections = [Section(
        "1. Private models and their twins",
        text=(f"MiniLM's classification head ({metrics['trainable_parameters']} parameters on the frozen "
              f"encoder) trained on the {n_train} training reviews for {epochs} epochs with DP-SGD "
              f"(batch size 256: sample rate {metrics['sample_rate']:g}, about "
              f"{metrics['sample_rate'] * n_train:.0f} reviews a step; clipping norm 1; delta "
              f"{metrics['delta']:.2g}, that is {metrics['delta'] * n_train:.2g}/N, where delta must be well "
              "below 1/N). The noise multiplier depends only on epsilon, delta, the sample rate "
              "and the number of steps; what grows with the number d of trained parameters is the "
              "noise's norm, about sigma * C * sqrt(d), against a clipped sum bounded by the batch size "
              "times C, hence the head alone. Each twin has the same settings and seed without clipping "
              "or noise (epsilon inf): the same initial head, and after the first step other batches, as "
              "the private run's noise draws move the shared random stream on. A twin with another seed "
              "changes the initial head and every batch: it shows how much of any difference is chance."),
        numbers={name: f"test accuracy {m['accuracy']:.3f}, epsilon {_eps(m['epsilon'])}, "
                       f"noise multiplier {m['noise_multiplier']:.3f}" for name, m in trained.items()},
    )]

    # 2. The same test reviews, explained by every model for the same function.
    examples = pipeline.load_data(pm, "reviews").split("test")[:: 4 if quick else 2]
    texts = [e.text for e in examples]
    explained, predicted = {}, {}
    for name in models:
        explained[name], predicted[name] = explain_logit_difference(
            pm, out / _folder(name), texts, n_steps=N_STEPS, device=device)

    def per_review(a: str, b: str, explanations: dict = explained) -> Any:
        return np.array([ff.rank_agreement([x], [y]) for x, y in zip(explanations[a], explanations[b])])

    twins = [name for name in models if name.startswith("twin")]
    pairs = ([(f"private{_suffix(s)}", f"twin{_suffix(s)}") for s in seeds]
             + [(a, b) for i, a in enumerate(twins) for b in twins[i + 1:]])
    rho = {f"{a} vs {b}": per_review(a, b) for a, b in pairs}
    rho_predicted = {f"{a} vs {b}": per_review(a, b, predicted) for a, b in pairs}
    explain_views.save_png([e for name in ("twin", "private") for e in explained[name][:3]], out / "side_by_side.png")
    worst = max(abs(e.delta) for runs in explained.values() for e in runs)
    sections.append(Section(
        "2. Do they explain alike?",
        text=(f"Integrated gradients ({N_STEPS} steps, [PAD] baseline) of the logit difference z_pos - z_neg "
              f"on {len(texts)} test reviews, for every model: explaining each model's predicted class "
              "instead would compare z_neg with z_pos wherever two models predict differently, so lower "
              "accuracy alone would lower the agreement. For each pair of models, the Spearman "
              "correlation of their word scores, averaged over the reviews (1: the same ranking; 0: "
              "unrelated); in brackets, the same with each model's predicted class as the target (its "
              "margin z_pred - z_other, which flips sign where the two models disagree), for comparison "
              "only. The picture shows the first three reviews, the non-private twin's scores "
              "above the private model's (green towards positive):\n\n"
              + "\n".join(f"- {t}" for t in texts[:3])),
        numbers={**{pair: f"{v.mean():.3f} (predicted class: {rho_predicted[pair].mean():.3f})" for pair, v in rho.items()},
                 "largest |IG delta|": round(worst, 4)},
        images=(out / "side_by_side.png",),
    ))

    # 3. More than chance? Paired by review: a percentile bootstrap over the reviews; the seeds.
    x, y = rho["private vs twin"], rho["twin vs twin, seed 1"]
    interval = stats.bootstrap((x, y), lambda a, b, axis=-1: np.mean(a - b, axis=axis), paired=True,
                               method="percentile", confidence_level=0.95, n_resamples=9999,
                               rng=0).confidence_interval
    gap = float(np.mean(x - y))
    private_pairs = [float(v.mean()) for pair, v in rho.items() if pair.startswith("private")]
    twin_pairs = [float(v.mean()) for pair, v in rho.items() if pair.startswith("twin")]
    spread = {"private vs its twin": _mean_sd(private_pairs), "twin vs twin": _mean_sd(twin_pairs)}
    sections.append(Section(
        "3. More than chance?",
        text=("The mean over reviews of rho(private, twin) - rho(twin, twin with seed 1), with a 95% "
              "percentile bootstrap interval (the reviews resampled as pairs, 9,999 resamples): it "
              "covers the choice of reviews for these trained models, not the luck of training."
              + ("" if quick else " Over seeds: each seed's private model against its own twin, and the "
                 "three twins against each other, mean and standard deviation over those pairs.")),
        numbers={"difference, 95% bootstrap interval": f"{gap:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]",
                 **({} if quick else spread)},
    ))

    # 4. Are the explanations of each model's own predictions faithful to it?
    rationales = [e.rationale for e in examples]
    faithful = {}
    for name in models:
        own = predicted[name]
        _, fitter = pipeline.open_run(pm, out / _folder(name), device=device)
        scorer = ff.model_scorer(fitter.model, fitter.tokenizer)
        faithful[name] = {
            "comprehensiveness": ff.comprehensiveness(scorer, own),
            "sufficiency": ff.sufficiency(scorer, own),
            "random comprehensiveness": ff.comprehensiveness(scorer, ff.random_explanations(own)),
            "auprc": ff.plausibility(own, rationales)["auprc"] if any(rationales) else None,
        }
    sections.append(Section(
        "4. Faithful, each to its own model?",
        text=("Each model's explanations of the class it predicts, scored with that model. "
              "Comprehensiveness: how much its confidence drops when the words IG ranks highest are "
              "deleted (random scores give the floor). Sufficiency: how much it drops when only they "
              "are kept. AUPRC: agreement with the words people marked as the reason."),
        numbers={name: ", ".join(
            [f"comprehensiveness {f['comprehensiveness']:.3f} (random {f['random comprehensiveness']:.3f})",
             f"sufficiency {f['sufficiency']:.3f}"]
            + ([f"AUPRC {f['auprc']:.3f}"] if f["auprc"] is not None else [])) for name, f in faithful.items()},
    ))

    below_chance = interval.high < 0 if quick else max(private_pairs) < min(twin_pairs)
    holds = below_chance and all(f["comprehensiveness"] > f["random comprehensiveness"]
                                 for name, f in faithful.items() if name.startswith("private"))
    private = faithful["private"]
    numbers = {
        "accuracy, private / twin": f"{trained['private']['accuracy']:.3f} / {trained['twin']['accuracy']:.3f}",
        "rank agreement, private vs twin": round(float(x.mean()), 3),
        "rank agreement, twin vs twin with another seed": round(float(y.mean()), 3),
        "difference, 95% bootstrap interval": f"{gap:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]",
        **({} if quick else {f"over seeds, {k}": v for k, v in spread.items()}),
        "private comprehensiveness (random)":
            f"{private['comprehensiveness']:.3f} ({private['random comprehensiveness']:.3f})",
        "twin comprehensiveness (random)":
            f"{faithful['twin']['comprehensiveness']:.3f} ({faithful['twin']['random comprehensiveness']:.3f})",
    }
    evidence = (f"the mean paired difference is {gap:+.3f}, 95% bootstrap interval "
                f"[{interval.low:+.3f}, {interval.high:+.3f}] over {len(texts)} reviews" if quick else
                f"over three seeds the private model agrees with its twin {spread['private vs its twin']}, "
                f"the twins with each other {spread['twin vs twin']}")
    claim = (f"With the explanation target fixed (the logit difference), DP-SGD at epsilon 8 changes which "
             f"words the model relies on, as IG ranks them, by more than chance does: on test reviews the private model's "
             f"IG word ranking agrees less with its non-private twin's (Spearman {x.mean():.2f}) than two "
             f"non-private seeds agree with each other ({y.mean():.2f}); {evidence}. Yet its "
             f"explanations stay faithful to it (comprehensiveness {private['comprehensiveness']:.3f} "
             f"against {private['random comprehensiveness']:.3f} for random scores).")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)


def _suffix(seed: int) -> str:
    return "" if seed == 42 else f", seed {seed}"


def _folder(name: str) -> str:
    return name.replace(",", "").replace(" ", "-")


def _eps(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _mean_sd(values: list[float]) -> str:
    import numpy as np

    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {sd:.3f} ({len(values)} pairs)"


def explain_logit_difference(pm: Any, run_dir: str | Path, texts: list[str], *, n_steps: int = N_STEPS,
                             device: str = "auto") -> tuple[list[Any], list[Any]]:
    """IG of each review's logit difference z_pos - z_neg, one Captum pass per review; and the same
    attributions signed towards the class the model predicts (its margin z_pred - z_other).

    The model is wrapped so that its two logits read -d/2 and d/2, for d = z_pos - z_neg. A
    two-class softmax depends on the difference of the logits only, so every probability stays
    the model's own; IG is linear in the function explained, so IG of the wrapped positive logit
    is IG(d)/2, and its completeness delta is half of d's. Doubling both gives IG(d) exactly, at
    half the cost of IG(z_pos) - IG(z_neg).
    """
    import types

    import numpy as np
    import torch

    from toolkit import pipeline

    _, fitter = pipeline.open_run(pm, run_dir, device=device)
    names = list(fitter.label_names)
    if sorted(names) != ["negative", "positive"]:
        raise ValueError(f"{run_dir}: the logit difference needs the labels negative and positive, not {names}")
    positive, negative = names.index("positive"), names.index("negative")
    model = fitter.model

    class HalfDifference(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.config = model, model.config

        def get_input_embeddings(self) -> Any:
            return self.inner.get_input_embeddings()

        def forward(self, **inputs: Any) -> Any:
            logits = self.inner(**inputs).logits
            half = (logits[:, positive] - logits[:, negative]) / 2
            return types.SimpleNamespace(logits=torch.stack([half if i == positive else -half for i in range(2)], -1))

    explainer = pipeline.make_explainer(pm, HalfDifference(), fitter.tokenizer, "ig", {"n_steps": n_steps})
    difference, predicted = [], []
    for half in explainer.explain(texts, target=positive):
        scores, words = 2 * np.asarray(half.attributions), 2 * np.asarray(half.word_attributions)
        delta = None if half.delta is None else 2 * half.delta
        difference.append(replace(half, attributions=tuple(scores.tolist()), word_attributions=tuple(words.tolist()),
                                  target_label="positive vs negative", delta=delta))
        if half.probability >= 0.5:  # predicts positive: its margin is d
            predicted.append(replace(difference[-1], target_label="positive"))
        else:  # predicts negative: its margin is -d, and the explained class is negative
            predicted.append(replace(difference[-1], attributions=tuple((-scores).tolist()),
                                     word_attributions=tuple((-words).tolist()), target=negative,
                                     target_label="negative", probability=1 - half.probability,
                                     delta=None if delta is None else -delta))
    return difference, predicted
