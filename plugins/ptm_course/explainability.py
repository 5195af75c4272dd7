"""The `explainability` lesson, headless: integrated gradients on a fine-tuned MiniLM and its
completeness, a baseline and a number of steps chosen on the dev reviews, several attribution
methods compared once on the test reviews (how faithful each is, against random scores), and
whether each survives the model being replaced by noise.

Everything goes through the public API (``toolkit.pipeline.explain``, ``make_explainer`` and
``explain_evaluate``, ``toolkit.faithfulness``, ``toolkit.explain_views``), the calls ``ptm
explain`` and ``ptm explain evaluate`` make.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit import hookimpl

EXAMPLES = (
    "A warm, funny and beautifully acted film.",
    "I would not call it boring at all.",
    "The plot is thin and the jokes fall flat.",
)
BASELINES = ("pad", "mask", "zero")
# The steps are the fewest whose largest |delta| on the dev sample is under this (logit units).
DELTA_TOLERANCE = 0.01
# The claim: IG removes more of the prediction than random attributions do, and its ranking
# is about the trained weights (it decorrelates once they are re-initialised).
MAX_RANDOMIZED_SPEARMAN = 0.5


class KeepExplanations:
    """A plugin object that keeps every explanation the toolkit makes, by explainer id, through
    the ``ptm_after_explain`` hook: register it around ``pipeline.explain_evaluate`` to have the
    table's explanations sentence by sentence."""

    def __init__(self) -> None:
        self.by_method: dict[str, list[Any]] = {}

    @hookimpl
    def ptm_after_explain(self, method: str, explanations: Sequence[Any]) -> None:
        self.by_method.setdefault(method, []).extend(explanations)


def bootstrap_interval(values: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    low, high = np.percentile(values[picks].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    import numpy as np

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
    data = pipeline.load_data(pm, "reviews")
    dev_texts = [e.text for e in data.split("dev")]
    test_texts = [e.text for e in data.split("test")]
    _, fitter = pipeline.open_run(pm, run_dir, device=device)
    model, tokenizer = fitter.model.eval(), fitter.tokenizer
    scorer = ff.model_scorer(model, tokenizer)

    def explain(texts: Sequence[str], method: str = "ig", **options: Any) -> list[Any]:
        return pipeline.make_explainer(pm, model, tokenizer, method, options).explain(list(texts))

    sections.append(Section(
        "1. The model to explain",
        text=(f"MiniLM fine-tuned on the {len(data.split('train'))} training reviews "
              f"({len(metrics['history'])} epoch(s)); it scores {metrics['accuracy']:.3f} on the "
              f"{len(test_texts)} test reviews. Choices (IG's baseline and steps) are made on the "
              f"{len(dev_texts)} dev reviews; the comparisons of sections 4 and 5 are on test reviews, once."),
        numbers={"test accuracy": round(metrics["accuracy"], 3)},
    ))

    # 2. Integrated gradients, and what completeness means.
    explained = pipeline.explain(pm, run_dir, list(EXAMPLES), method="ig", device=device)
    explain_views.save_png(explained, out / "ig.png")
    sections.append(Section(
        "2. Integrated gradients",
        text=("IG (Sundararajan et al. 2017) scores input coordinate i by "
              "IG_i(x) = (x_i - x'_i) * integral over a from 0 to 1 of dF(x' + a(x - x'))/dx_i da: "
              "the gradient of the predicted class's logit F, averaged along the straight path from "
              "a baseline x' (the sentence with every token but [CLS] and [SEP] replaced by [PAD]) to "
              "the sentence x, times the distance travelled. x is the word embeddings; a token's score "
              "sums its coordinates, and WordPiece pieces are summed back into words. The scores are "
              "complete: they sum to F(x) - F(x'), up to the integration error delta (50 "
              "Gauss-Legendre points here). Green pushes towards the predicted label, red away from it."),
        numbers={e.text: f"{e.target_label} ({e.probability:.2f}); top words: "
                         f"{', '.join(e.top_words(3))}; delta {e.delta:+.4f}" for e in explained},
        images=(out / "ig.png",),
        html=explain_views.as_html(explained),
    ))

    # 3. The baseline and the steps, chosen on dev.
    dev_sample = dev_texts[: 8 if quick else 40]
    with warnings.catch_warnings():
        # The deltas are measured and reported here, not a mistake to flag.
        warnings.simplefilter("ignore", PtmWarning)
        by_baseline = {b: explain(dev_sample, baseline=b) for b in BASELINES}
    dev_comprehensiveness = {b: ff.comprehensiveness(scorer, by_baseline[b]) for b in BASELINES}
    baseline = max(dev_comprehensiveness, key=dev_comprehensiveness.get)
    agreement = {b: ff.rank_agreement(by_baseline["pad"], by_baseline[b]) for b in BASELINES[1:]}
    steps = (4, 8, 16, 32) if quick else (4, 8, 16, 32, 64)
    convergence = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PtmWarning)  # too few steps on purpose: the deltas are the measurement
        for n in steps:
            deltas = [abs(e.delta) for e in explain(dev_sample, baseline=baseline, n_steps=n)]
            convergence[n] = (max(deltas), sum(deltas) / len(deltas))
    n_steps = next((n for n in steps if convergence[n][0] < DELTA_TOLERANCE), steps[-1])
    ig_options = {"baseline": baseline, "n_steps": n_steps}
    _plot_convergence(convergence, out / "convergence.png", title=f"IG completeness error, {baseline} baseline, dev")
    sections.append(Section(
        "3. Baselines and convergence",
        text=(f"On {len(dev_sample)} dev reviews. The baseline is the input that means 'nothing': "
              "[PAD] tokens, [MASK] tokens or zero vectors. The lesson takes the one whose IG scores "
              "are the most comprehensive on dev (section 4), then the fewest Gauss-Legendre steps "
              f"whose largest |delta| on dev is under {DELTA_TOLERANCE}: {baseline}, {n_steps} steps. "
              "How alike the baselines' stories are is the rank correlation (Spearman) of their word "
              "scores with the [PAD] baseline's. `ptm explain --delta-tolerance 0.01` instead raises "
              "the steps per sentence until |delta| is under the tolerance."),
        numbers={**{f"dev comprehensiveness, {b} baseline": round(v, 3) for b, v in dev_comprehensiveness.items()},
                 **{f"rank agreement, {b} vs pad": round(v, 3) for b, v in agreement.items()},
                 **{f"{n} steps: largest / mean |delta|": f"{hi:.4f} / {mean:.4f}"
                    for n, (hi, mean) in convergence.items()},
                 "chosen on dev": f"{baseline} baseline, {n_steps} steps"},
        images=(out / "convergence.png",),
    ))

    # 4. Methods side by side on test, once: faithfulness and plausibility.
    methods = ("ig", "saliency", "occlusion") if quick else ("ig", "saliency", "input-x-gradient", "occlusion", "kernel-shap")
    test_sample = test_texts[: 40 if quick else 200]
    kept = KeepExplanations()
    pm.register(kept, name="keep-explanations")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PtmWarning)
            table = pipeline.explain_evaluate(pm, run_dir, data="reviews", methods=methods, limit=len(test_sample),
                                              sanity=0, options={"ig": ig_options}, device=device, progress=progress)
    finally:
        pm.unregister(kept)
    rows = {r["method"]: r for r in table["rows"]}
    # Sentence by sentence, for the interval: the explanations the table's IG and random rows scored.
    ig_test = kept.by_method["ig"]
    ig_comp = np.array([ff.comprehensiveness(scorer, [e]) for e in ig_test])
    random_comp = np.array([ff.comprehensiveness(scorer, [e]) for e in ff.random_explanations(ig_test, seed=0)])
    comp_gap = ig_comp - random_comp
    comp_low, comp_high = bootstrap_interval(comp_gap)
    sections.append(Section(
        f"4. {len(methods)} methods, side by side",
        text=(f"{_listed(methods)}: each method explains the same {table['n']} test reviews"
              + (" (the full run adds input x gradient and KernelSHAP)" if quick else "")
              + f"; IG with the dev choices ({baseline} baseline, {n_steps} steps). With r_k the top "
              "max(1, ceil(k n)) of a sentence's n tokens besides [CLS] and [SEP], for k in "
              "K = {5, 10, 20, 50%}, and p_y the predicted class's probability (DeYoung et al. 2020): "
              "comprehensiveness = mean over K of p_y(x) - p_y(x without r_k), the tokens deleted "
              "(higher is better); sufficiency = mean over K of p_y(x) - p_y(r_k alone, with [CLS] and "
              "[SEP]) (lower is better); both averaged over sentences. Random scores are the floor; the "
              "interval is a 95% bootstrap over the test reviews of IG's comprehensiveness minus "
              "random's, review by review. AUPRC measures agreement with the words people marked as "
              "the reason (the reviews' rationales)."),
        numbers={**{name: method_row(row) for name, row in rows.items()},
                 "IG - random comprehensiveness, 95% bootstrap interval":
                     f"{comp_gap.mean():+.3f} [{comp_low:+.3f}, {comp_high:+.3f}]",
                 "test reviews whose IG |delta| the toolkit flagged":
                     sum("convergence delta" in str(w.message) for w in caught)},
    ))

    # 5. The randomisation check, sentence by sentence.
    sanity_sample = test_sample[: 8 if quick else 16]
    randomization: dict[str, list[dict[str, Any]]] = {}
    final_spearman: dict[str, Any] = {}
    # quick mode checks IG and saliency (the method that barely moves); full mode every method
    for method in [m for m in methods if not quick or m in ("ig", "saliency")]:
        by_stage: list[list[Any]] = []

        def explain_with(randomised: Any, method: str = method, by_stage: list = by_stage) -> list[Any]:
            options = ig_options if method == "ig" else {}
            by_stage.append(pipeline.make_explainer(pm, randomised, tokenizer, method, options).explain(sanity_sample))
            return by_stage[-1]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PtmWarning)  # a random model's deltas are not the question
            randomization[method] = ff.cascading_randomization(model, explain_with, seed=0)
        final_spearman[method] = np.array([ff.rank_agreement([a], [b]) for a, b in zip(by_stage[0], by_stage[-1])])
    rho_low, rho_high = bootstrap_interval(final_spearman["ig"])
    (out / "methods.json").write_text(json.dumps(
        {**table, "ig_options": ig_options, "randomization": randomization}, indent=2))
    _plot_randomization([{"method": m, "randomization": r} for m, r in randomization.items()],
                        out / "randomization.png")
    sections.append(Section(
        "5. The randomisation check",
        text=(f"Adebayo et al. (2018), on {len(sanity_sample)} test reviews: re-initialise the "
              "model's weights layer by layer, from the classifier down to the embeddings, and explain "
              "the same sentences again. A method that explains the model must change: the rank "
              "correlation with the trained model's scores should fall towards 0. One that does not "
              "(e.g. one that only sees the input) is an edge detector, not an explanation."),
        numbers={**{name: " -> ".join(f"{s['spearman']:.2f}" for s in stages)
                    for name, stages in randomization.items()},
                 "IG after every layer, 95% bootstrap interval":
                     f"{final_spearman['ig'].mean():.2f} [{rho_low:.2f}, {rho_high:.2f}]"},
        images=(out / "randomization.png",),
    ))

    ig, random_row = rows["ig"], rows["random"]
    holds = comp_low > 0 and rho_high < MAX_RANDOMIZED_SPEARMAN
    numbers = {
        "test accuracy": round(metrics["accuracy"], 3),
        "IG baseline and steps, chosen on dev": f"{baseline}, {n_steps}",
        "IG comprehensiveness": round(ig["comprehensiveness"], 3),
        "random comprehensiveness": round(random_row["comprehensiveness"], 3),
        "IG - random comprehensiveness": round(float(comp_gap.mean()), 3),
        "IG - random comprehensiveness, 95% bootstrap interval": [round(comp_low, 3), round(comp_high, 3)],
        "IG sufficiency": round(ig["sufficiency"], 3),
        "random sufficiency": round(random_row["sufficiency"], 3),
        "IG rank correlation after randomising every layer": round(float(final_spearman["ig"].mean()), 3),
        "IG rank correlation after randomising every layer, 95% bootstrap interval": [round(rho_low, 3), round(rho_high, 3)],
        f"largest |delta| on dev at {steps[-1]} steps": float(f"{convergence[steps[-1]][0]:.3g}"),
    }
    if "plausibility_auprc" in ig:
        numbers["IG AUPRC against rationales"] = round(ig["plausibility_auprc"], 3)
        numbers["random AUPRC"] = round(random_row["plausibility_auprc"], 3)
    how = (f"one fine-tuning run, {len(ig_test)} test reviews ({len(sanity_sample)} for the randomisation "
           "check), 95% bootstrap intervals over reviews")
    claim = (f"With IG's baseline and steps chosen on dev ({baseline}, {n_steps}), on held-out test reviews "
             f"deleting IG's top tokens removes more of the prediction than deleting random tokens "
             f"(comprehensiveness {ig['comprehensiveness']:.3f} against {random_row['comprehensiveness']:.3f}; "
             f"difference {comp_gap.mean():+.3f}, interval [{comp_low:+.3f}, {comp_high:+.3f}], above 0), and IG's "
             f"word ranking decorrelates from the trained model's once every layer is re-initialised "
             f"(Spearman {final_spearman['ig'].mean():.2f}, interval [{rho_low:.2f}, {rho_high:.2f}], below "
             f"{MAX_RANDOMIZED_SPEARMAN}); {how}.")
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


def _plot_convergence(convergence: dict[int, tuple[float, float]], path: Path, *,
                      title: str = "IG completeness error") -> Path:
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are
    from matplotlib.ticker import NullLocator

    steps = list(convergence)
    figure = Figure(figsize=(5, 3.2), dpi=110)
    axis = figure.subplots()
    axis.plot(steps, [convergence[n][0] for n in steps], "o-", label="largest |delta|")
    axis.plot(steps, [convergence[n][1] for n in steps], "s--", label="mean |delta|")
    axis.axhline(DELTA_TOLERANCE, color="grey", linewidth=0.8, linestyle=":", label=f"tolerance {DELTA_TOLERANCE}")
    axis.set(xscale="log", yscale="log", xlabel="integration steps", ylabel="|delta| (logit units)", title=title)
    axis.set_xticks(steps, [str(n) for n in steps])
    axis.xaxis.set_minor_locator(NullLocator())  # the log axis's minor labels overlap ours
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return path


def _plot_randomization(rows: list[dict[str, Any]], path: Path) -> Path:
    """``rows``: one dict per method, with ``method`` and (when checked) ``randomization``, the
    stages ``faithfulness.cascading_randomization`` returned."""
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
