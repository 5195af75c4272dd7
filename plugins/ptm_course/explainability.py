"""The `explainability` lesson, headless: integrated gradients on a fine-tuned MiniLM, its
baselines and convergence, five attribution methods side by side, how faithful each is, and
whether it survives the model being replaced by noise.

Everything goes through the public API (``toolkit.pipeline.explain`` and
``explain_evaluate``, ``toolkit.explain_views``), the calls ``ptm explain`` and
``ptm explain evaluate`` make.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

EXAMPLES = (
    "A warm, funny and beautifully acted film.",
    "I would not call it boring at all.",
    "The plot is thin and the jokes fall flat.",
)
BASELINES = ("pad", "mask", "zero")
# The claim: IG removes more of the prediction than random attributions do, and its ranking
# is about the trained weights (it decorrelates once they are re-initialised).
MAX_RANDOMIZED_SPEARMAN = 0.5


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from toolkit import explain_views, pipeline
    from toolkit import faithfulness as ff
    from toolkit.errors import PtmWarning
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    sections = []
    # 1. A model to explain.
    metrics = pipeline.train(pm, model="minilm", data="reviews", out=out / "run", device=device,
                             epochs=1 if quick else 3, max_length=64, progress=progress)
    run_dir = out / "run"
    test_texts = [e.text for e in pipeline.load_data(pm, "reviews").evaluation_split()]
    sections.append(Section(
        "1. The model to explain",
        text=(f"MiniLM fine-tuned on the reviews data ({len(metrics['history'])} epoch(s)); it scores "
              f"{metrics['accuracy']:.3f} on the held-out test sentences, which every measurement "
              "below uses."),
        numbers={"test accuracy": round(metrics["accuracy"], 3)},
    ))

    # 2. Integrated gradients, and what completeness means.
    explained = pipeline.explain(pm, run_dir, list(EXAMPLES), method="ig", device=device)
    explain_views.save_png(explained, out / "ig.png")
    sections.append(Section(
        "2. Integrated gradients",
        text=("IG (Sundararajan et al. 2017) walks a straight path from a baseline input (the "
              "sentence with every word replaced by [PAD]) to the real sentence and adds up the "
              "gradient of the predicted class's logit along the way, per token. The scores are "
              "complete: they sum to the logit at the sentence minus the logit at the baseline, "
              "up to the integration error delta. Green pushes towards the predicted label, red "
              "away from it; WordPiece pieces are summed back into words."),
        numbers={e.text: f"{e.target_label} ({e.probability:.2f}); top words: "
                         f"{', '.join(e.top_words(3))}; delta {e.delta:+.4f}" for e in explained},
        images=(out / "ig.png",),
        html=explain_views.as_html(explained),
    ))

    # 3. Baselines and convergence, on held-out sentences.
    sample = test_texts[: 6 if quick else 20]
    by_baseline = {b: pipeline.explain(pm, run_dir, sample, method="ig", baseline=b, device=device)
                   for b in BASELINES}
    agreement = {
        f"{b} vs pad": round(ff.rank_agreement(by_baseline["pad"], by_baseline[b]), 3) for b in BASELINES[1:]
    }
    steps = (4, 8, 16, 32) if quick else (4, 8, 16, 32, 64)
    convergence = {}
    with warnings.catch_warnings():
        # Too few steps on purpose: the deltas are the measurement here, not a mistake to flag.
        warnings.simplefilter("ignore", PtmWarning)
        for n in steps:
            deltas = [abs(e.delta) for e in pipeline.explain(pm, run_dir, sample, method="ig", n_steps=n, device=device)]
            convergence[n] = (max(deltas), sum(deltas) / len(deltas))
    _plot_convergence(convergence, out / "convergence.png")
    sections.append(Section(
        "3. Baselines and convergence",
        text=(f"On {len(sample)} test sentences. The baseline is the input that means 'nothing': "
              "[PAD] tokens, [MASK] tokens or zero vectors. Each tells a slightly different story, "
              "measured here as the rank correlation (Spearman) of the word scores with the [PAD] "
              "baseline's. The integral is computed with Gauss-Legendre quadrature; the "
              "completeness error |delta| shrinks as the steps grow (`ptm explain "
              "--delta-tolerance 0.01` raises the steps per sentence until it is met)."),
        numbers={**{f"rank agreement, {k}": v for k, v in agreement.items()},
                 **{f"{n} steps: largest / mean |delta|": f"{hi:.4f} / {mean:.4f}"
                    for n, (hi, mean) in convergence.items()}},
        images=(out / "convergence.png",),
    ))

    # 4. Methods side by side: faithfulness, plausibility, randomisation.
    methods = ("ig", "saliency", "occlusion") if quick else ("ig", "saliency", "input-x-gradient", "occlusion", "kernel-shap")
    table = pipeline.explain_evaluate(pm, run_dir, data="reviews", methods=methods,
                                      limit=24 if quick else 100, sanity=4 if quick else 16, device=device,
                                      progress=progress)
    rows = {r["method"]: r for r in table["rows"]}
    (out / "methods.json").write_text(json.dumps(table, indent=2))
    _plot_randomization(table["rows"], out / "randomization.png")
    sections.append(Section(
        f"4. {len(methods)} methods, side by side",
        text=(f"{_listed(methods)}: each method explains the same {table['n']} test sentences"
              + (" (the full run adds input x gradient and KernelSHAP)" if quick else "")
              + ". Comprehensiveness: how "
              "much the predicted class's probability drops when the top-scored words are deleted "
              "(higher is better). Sufficiency: how much it drops when only they are kept (lower "
              "is better). Both are averaged over 5, 10, 20 and 50% of the tokens (DeYoung et al. "
              "2020). Random scores are the floor. AUPRC measures agreement with the words people "
              "marked as the reason (the reviews' rationales)."),
        numbers={name: method_row(row) for name, row in rows.items()},
    ))
    sections.append(Section(
        "5. The randomisation check",
        text=("Adebayo et al. (2018): re-initialise the model's weights layer by layer, from the "
              "classifier down to the embeddings, and explain the same sentences again. A method "
              "that explains the model must change: the rank correlation with the trained model's "
              "scores should fall towards 0. One that does not (e.g. one that only sees the input) "
              "is an edge detector, not an explanation."),
        numbers={name: " -> ".join(f"{s['spearman']:.2f}" for s in row["randomization"])
                 for name, row in rows.items() if "randomization" in row},
        images=(out / "randomization.png",),
    ))

    ig, random_row = rows["ig"], rows["random"]
    holds = (ig["comprehensiveness"] > random_row["comprehensiveness"]
             and ig["randomized_spearman"] < MAX_RANDOMIZED_SPEARMAN)
    numbers = {
        "test accuracy": round(metrics["accuracy"], 3),
        "IG comprehensiveness": round(ig["comprehensiveness"], 3),
        "random comprehensiveness": round(random_row["comprehensiveness"], 3),
        "IG sufficiency": round(ig["sufficiency"], 3),
        "random sufficiency": round(random_row["sufficiency"], 3),
        "IG rank correlation after randomising every layer": round(ig["randomized_spearman"], 3),
        f"largest |delta| at {steps[-1]} steps": float(f"{convergence[steps[-1]][0]:.3g}"),
    }
    if "plausibility_auprc" in ig:
        numbers["IG AUPRC against rationales"] = round(ig["plausibility_auprc"], 3)
        numbers["random AUPRC"] = round(random_row["plausibility_auprc"], 3)
    claim = (f"On held-out reviews, deleting IG's top words removes more of the prediction than "
             f"deleting random words (comprehensiveness {ig['comprehensiveness']:.3f} against "
             f"{random_row['comprehensiveness']:.3f}), and IG's word ranking decorrelates from the "
             f"trained model's once the weights are re-initialised (Spearman "
             f"{ig['randomized_spearman']:.2f}, below {MAX_RANDOMIZED_SPEARMAN}).")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)


def _listed(methods: tuple[str, ...]) -> str:
    return ", ".join(methods[:-1]) + " and " + methods[-1]


def method_row(row: dict[str, Any]) -> str:
    """One row of ``explain_evaluate``'s table, in words (also used by the write-a-plugin lesson)."""
    parts = [f"comprehensiveness {row['comprehensiveness']:.3f}", f"sufficiency {row['sufficiency']:.3f}"]
    if "plausibility_auprc" in row:
        parts.append(f"AUPRC {row['plausibility_auprc']:.3f}")
    if row.get("randomized_spearman") is not None:
        parts.append(f"Spearman after randomisation {row['randomized_spearman']:.2f}")
    if row.get("seconds_per_sentence") is not None:
        parts.append(f"{row['seconds_per_sentence']:.3f} s/sentence")
    return ", ".join(parts)


def _plot_convergence(convergence: dict[int, tuple[float, float]], path: Path) -> Path:
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are
    from matplotlib.ticker import NullLocator

    steps = list(convergence)
    figure = Figure(figsize=(5, 3.2), dpi=110)
    axis = figure.subplots()
    axis.plot(steps, [convergence[n][0] for n in steps], "o-", label="largest |delta|")
    axis.plot(steps, [convergence[n][1] for n in steps], "s--", label="mean |delta|")
    axis.axhline(0.01, color="grey", linewidth=0.8, linestyle=":", label="tolerance 0.01")
    axis.set(xscale="log", yscale="log", xlabel="integration steps", ylabel="|delta| (logit units)",
             title="IG completeness error")
    axis.set_xticks(steps, [str(n) for n in steps])
    axis.xaxis.set_minor_locator(NullLocator())  # the log axis's minor labels overlap ours
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return path


def _plot_randomization(rows: list[dict[str, Any]], path: Path) -> Path:
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are

    figure = Figure(figsize=(6.4, 3.4), dpi=110)
    axis = figure.subplots()
    stages: list[str] = []
    for row in rows:
        if "randomization" not in row:
            continue
        stages = [s["stage"] for s in row["randomization"]]
        axis.plot(range(len(stages)), [s["spearman"] for s in row["randomization"]], "o-", label=row["method"])
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.set_xticks(range(len(stages)), stages, rotation=40, ha="right", fontsize=8)
    axis.set(ylabel="Spearman with the trained model", title="Cascading randomisation, top layer first")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return path
