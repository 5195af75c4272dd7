"""The `write-a-plugin` lesson, headless: a third-party explainer written against the public
contract, registered through a hook, checked with ``toolkit.testing`` and then measured with
the same tools as the built-in methods.

The plugin is ``plugin_example/ptm_gradient_shap.py`` (with its pyproject.toml), shipped with
the course and copied into the lesson's folder, where a student can read, change and
``pip install -e`` it. The helpers below are shared with the lesson's notebook, so that the
two make the same measurements and the same claim.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from toolkit import hookimpl

PLUGIN = "ptm_gradient_shap"
METHOD = "gradient-shap"
EXAMPLES = (
    "A warm, funny and beautifully acted film.",
    "I would not call it boring at all.",
    "The plot is thin and the jokes fall flat.",
)
MAX_RANDOMIZED_SPEARMAN = 0.5
# n_samples is chosen on the dev split: the smallest count whose word rankings agree across two
# explainer seeds at least this much (mean Spearman; 0.8 is conventionally a strong correlation).
STABLE_AGREEMENT = 0.8
# Training seeds of the full run; the quick run trains the first only.
SEEDS = (42, 43, 44)


def settings(quick: bool) -> dict[str, Any]:
    """The lesson's sizes, quick or full (the notebook and the runner use the same)."""
    return {
        "epochs": 1 if quick else 3,
        "seeds": SEEDS[:1] if quick else SEEDS,
        "samples": (8, 16, 32) if quick else (8, 16, 32, 64),  # n_samples tried on dev
        "dev": 8 if quick else 24,  # dev sentences for choosing n_samples
        "completeness_samples": (4, 16, 64) if quick else (4, 16, 64, 256),
        "completeness_seeds": 5 if quick else 10,
        "test": 24 if quick else 100,  # test sentences for faithfulness
        "sanity": 8 if quick else 16,  # test sentences for the randomisation check
    }


def copy_plugin(dest: str | Path, *, overwrite: bool = False) -> Path:
    """Copy the example plugin's files into the folder ``dest``; return the module's path.

    A file already there (a student's edited copy) is kept unless ``overwrite``.
    """
    source = resources.files("ptm_course") / "plugin_example"
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f"{PLUGIN}.py", "pyproject.toml"):
        if (folder / name).exists() and not overwrite:
            continue
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, folder / name)
    return folder / f"{PLUGIN}.py"


def load_plugin(pm: Any, path: str | Path) -> Any:
    """Import the plugin module from ``path`` and register it on ``pm`` (replacing an earlier
    copy): what the ``ptm`` entry point does once the package is pip-installed."""
    spec = importlib.util.spec_from_file_location(PLUGIN, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[PLUGIN] = module
    if pm.has_plugin(PLUGIN):
        pm.unregister(name=PLUGIN)
    pm.register(module, name=PLUGIN)
    return module


class ExplanationLog:
    """A lifecycle observer: keeps every explanation the toolkit computes, by method.

    ``ptm_after_explain`` is called with the explanations of each batch of texts; an observer
    sees them and returns nothing. ``explain_evaluate`` reports means only; with this log
    registered, the per-sentence scores behind those means can be computed afterwards.
    """

    def __init__(self) -> None:
        self.by_method: dict[str, list[Any]] = {}

    @hookimpl
    def ptm_after_explain(self, method: str, explanations: Sequence[Any]) -> None:
        self.by_method.setdefault(method, []).extend(explanations)


def bootstrap_interval(values: Sequence[float], *, level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (sentences resampled with
    replacement)."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def gradient_shap_explainer(pm: Any, model: Any, tokenizer: Any, n_samples: int, seed: int) -> Any:
    """The plugin's explainer, built through the registry as ``ptm explain`` builds it."""
    from toolkit.pipeline import make_explainer

    return make_explainer(pm, model, tokenizer, METHOD, {"n_samples": n_samples, "seed": seed})


def completeness(pm: Any, model: Any, tokenizer: Any, text: str, samples: Sequence[int],
                 seeds: int) -> dict[str, Any]:
    """How far GradientSHAP's total misses f(x) - mean_b f(b), draw by draw.

    ``f`` is the predicted class's logit, ``b`` the plugin's two baselines ([PAD] and [MASK]
    for every word, [CLS] and [SEP] kept), each drawn with probability 1/2. For each
    ``n_samples`` in ``samples`` the text is explained with ``seeds`` seeds; the gap is the sum
    of the token scores minus that expected total. Returns the expected total and, per
    n_samples, the gaps' mean, standard deviation and largest absolute value.
    """
    import numpy as np
    import torch

    device = next(model.parameters()).device
    enc = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True).to(device)
    ids, mask, keep = enc["input_ids"], enc["attention_mask"], enc["special_tokens_mask"].bool()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()[0]
        target = int(logits.argmax())
        at_baselines = [
            model(input_ids=torch.where(keep, ids, torch.full_like(ids, token)), attention_mask=mask).logits.float()[0, target]
            for token in (tokenizer.pad_token_id, tokenizer.mask_token_id)
        ]
    expected = float(logits[target] - torch.stack(at_baselines).mean())
    rows = {}
    for n in samples:
        totals = [sum(gradient_shap_explainer(pm, model, tokenizer, n, s).explain([text])[0].attributions) for s in range(seeds)]
        gaps = np.asarray(totals) - expected
        rows[n] = {"mean gap": float(gaps.mean()), "sd of the gap": float(gaps.std(ddof=1)),
                   "largest |gap|": float(np.abs(gaps).max()), "gaps": gaps.tolist()}
    return {"text": text, "target": model.config.id2label[target], "expected": expected, "rows": rows}


def plot_gaps(gaps: dict[int, Sequence[float]], path: str | Path) -> Path:
    """Each explanation's completeness gap against its n_samples (log scale), with the band of
    two standard deviations at the smallest n shrunk like 1/sqrt(n); saved as a PNG."""
    import numpy as np
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend and figures stay as they are
    from matplotlib.ticker import NullLocator

    counts = sorted(gaps)
    figure = Figure(figsize=(5.6, 3.4), dpi=110)
    axis = figure.subplots()
    for n in counts:
        axis.scatter([n] * len(gaps[n]), gaps[n], s=16, color="tab:blue", alpha=0.6,
                     label="one explanation" if n == counts[0] else None)
    spread = 2 * float(np.std(gaps[counts[0]], ddof=1))
    grid = np.geomspace(counts[0], counts[-1], 50)
    band = spread * np.sqrt(counts[0] / grid)
    axis.plot(grid, band, "--", color="grey", label="2 sd at the smallest n, times sqrt(n0 / n)")
    axis.plot(grid, -band, "--", color="grey")
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_xticks(counts, [str(n) for n in counts])
    axis.xaxis.set_minor_locator(NullLocator())
    axis.set_xlabel("n_samples")
    axis.set_ylabel("sum of scores - (f(x) - E f(x'))")
    axis.set_title("GradientSHAP is complete on average, not per explanation", fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def seed_agreement(pm: Any, model: Any, tokenizer: Any, texts: Sequence[str], n_samples: int) -> float:
    """Mean Spearman correlation of the word scores of ``texts`` explained with seeds 0 and 1."""
    from toolkit import faithfulness as ff

    first, second = (gradient_shap_explainer(pm, model, tokenizer, n_samples, s).explain(list(texts)) for s in (0, 1))
    return ff.rank_agreement(first, second)


def choose_samples(agreement: dict[int, float]) -> int:
    """The smallest n_samples whose seed-to-seed agreement reaches STABLE_AGREEMENT (else the largest)."""
    stable = [n for n in sorted(agreement) if agreement[n] >= STABLE_AGREEMENT]
    return stable[0] if stable else max(agreement)


def measure(pm: Any, run_dir: Path, *, n_samples: int, test: int, sanity: int, device: str = "auto",
            progress: bool = True) -> dict[str, Any]:
    """Faithfulness and the randomisation check of the plugin on the test split of ``reviews``.

    ``explain_evaluate`` gives the table (IG, the plugin, random scores) on the first ``test``
    test sentences; an :class:`ExplanationLog` registered meanwhile keeps the explanations, from
    which the per-sentence comprehensiveness of each row is computed (their mean is the
    table's). The randomisation check re-initialises every layer of the model from the top
    down (``faithfulness.cascading_randomization``) on the first ``sanity`` sentences and keeps
    each sentence's Spearman correlation at the last stage. Returns the table's rows, the
    per-sentence values, and 95% bootstrap intervals.
    """
    import numpy as np

    from toolkit import faithfulness as ff
    from toolkit import pipeline

    log = ExplanationLog()
    pm.register(log, name="explanation-log")
    try:
        table = pipeline.explain_evaluate(pm, run_dir, data="reviews", methods=("ig", METHOD), limit=test,
                                          sanity=0, options={METHOD: {"n_samples": n_samples}},
                                          device=device, progress=progress)
    finally:
        pm.unregister(log)
    rows = {r["method"]: r for r in table["rows"]}
    _, fitter = pipeline.open_run(pm, run_dir, device=device)
    scorer = ff.model_scorer(fitter.model, fitter.tokenizer)
    explained = {m: log.by_method[m] for m in ("ig", METHOD)}
    explained["random"] = ff.random_explanations(explained["ig"], seed=0)  # explain_evaluate's random row
    per_sentence = {m: np.array([ff.comprehensiveness(scorer, [e]) for e in es]) for m, es in explained.items()}
    difference = per_sentence[METHOD] - per_sentence["random"]

    texts = [e.text for e in explained[METHOD][:sanity]]
    recorded: list[list[Any]] = []

    def explain_with(model: Any) -> list[Any]:
        recorded.append(gradient_shap_explainer(pm, model, fitter.tokenizer, n_samples, 0).explain(texts))
        return recorded[-1]

    stages = ff.cascading_randomization(fitter.model, explain_with, seed=0)
    spearman = np.array([ff.rank_agreement([a], [b]) for a, b in zip(recorded[0], recorded[-1])])
    return {
        "n": table["n"],
        "rows": rows,
        "comprehensiveness": {m: float(v.mean()) for m, v in per_sentence.items()},
        "difference": float(difference.mean()),
        "difference_interval": bootstrap_interval(difference),
        "stages": stages,
        "sanity": len(texts),
        "spearman": float(spearman.mean()),
        "spearman_interval": bootstrap_interval(spearman),
    }


def verdict(measured: dict[int, dict[str, Any]], *, contract: str, quick: bool) -> tuple[str, bool, dict[str, Any]]:
    """The lesson's claim from :func:`measure` results (one per training seed): the sentence,
    whether it holds, and the numbers behind it.

    Quick (one model): the 95% bootstrap interval of the mean per-sentence difference in
    comprehensiveness (plugin minus random) lies above 0, and that of the per-sentence Spearman
    correlation after full randomisation lies below MAX_RANDOMIZED_SPEARMAN. Full (three
    training seeds): both hold on every seed; mean and standard deviation are reported.
    """
    import numpy as np

    first = next(iter(measured.values()))
    differences = np.array([m["difference"] for m in measured.values()])
    spearmans = np.array([m["spearman"] for m in measured.values()])
    numbers: dict[str, Any] = {"contract check": contract}
    if quick:
        low, high = first["difference_interval"]
        s_low, s_high = first["spearman_interval"]
        holds = contract == "passed" and low > 0 and s_high < MAX_RANDOMIZED_SPEARMAN
        numbers |= {
            f"{METHOD} comprehensiveness": round(first["comprehensiveness"][METHOD], 3),
            "ig comprehensiveness": round(first["comprehensiveness"]["ig"], 3),
            "random comprehensiveness": round(first["comprehensiveness"]["random"], 3),
            f"{METHOD} minus random, 95% bootstrap interval": f"{first['difference']:+.3f} [{low:+.3f}, {high:+.3f}]",
            "Spearman after randomising every layer, 95% bootstrap interval":
                f"{first['spearman']:.3f} [{s_low:.3f}, {s_high:.3f}]",
        }
        claim = (f"A plugin written against the public contract alone adds a method the toolkit did not have: "
                 f"'{METHOD}' passes the explainer contract ({contract.split(':')[0]}); on {first['n']} held-out "
                 f"test reviews its comprehensiveness exceeds random scores' by {first['difference']:+.3f} "
                 f"(95% bootstrap interval [{low:+.3f}, {high:+.3f}], above 0), and once every layer is "
                 f"re-initialised its word ranking correlates with the trained model's at "
                 f"{first['spearman']:.2f} (interval [{s_low:.2f}, {s_high:.2f}] on {first['sanity']} reviews, "
                 f"below {MAX_RANDOMIZED_SPEARMAN}).")
    else:
        holds = (contract == "passed" and bool((differences > 0).all())
                 and bool((spearmans < MAX_RANDOMIZED_SPEARMAN).all()))
        numbers |= {
            f"{METHOD} minus random comprehensiveness, per seed": ", ".join(f"{d:+.3f}" for d in differences),
            f"{METHOD} minus random comprehensiveness, mean (sd)":
                f"{differences.mean():+.3f} ({differences.std(ddof=1):.3f})",
            "Spearman after randomising every layer, per seed": ", ".join(f"{s:.3f}" for s in spearmans),
            "Spearman after randomising every layer, mean (sd)": f"{spearmans.mean():.3f} ({spearmans.std(ddof=1):.3f})",
        }
        claim = (f"A plugin written against the public contract alone adds a method the toolkit did not have: "
                 f"'{METHOD}' passes the explainer contract ({contract.split(':')[0]}); over {len(differences)} "
                 f"training seeds, on {first['n']} held-out test reviews each, its comprehensiveness exceeds "
                 f"random scores' by {differences.mean():+.3f} on average (sd {differences.std(ddof=1):.3f}, "
                 f"smallest {differences.min():+.3f}), and once every layer is re-initialised its word "
                 f"ranking correlates with the trained model's at {spearmans.mean():.2f} on average "
                 f"(sd {spearmans.std(ddof=1):.2f}, largest {spearmans.max():.2f}, below {MAX_RANDOMIZED_SPEARMAN}).")
    return claim, holds, numbers


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from ptm_course.explainability import method_row
    from toolkit import explain_views, hookspecs, pipeline
    from toolkit.contracts import check_explainer
    from toolkit.lessons import LessonResult
    from toolkit.registry import ExplainerSpec
    from toolkit.report import Section

    size = settings(quick)
    sections = []
    hooks = sorted(name for name in dir(hookspecs) if name.startswith("ptm_"))
    registration = [h for h in hooks if h.startswith("ptm_register_")]
    sections.append(Section(
        "1. The contract",
        text=("A plugin is a Python module or object with functions named after the toolkit's hooks, "
              "marked with toolkit.hookimpl (pluggy). Registration hooks hand records (models, data, "
              "tasks, trainers, privacy mechanisms, explainers, lessons) to the register callable, or "
              "commands to the CLI, and return None. Lifecycle hooks (before, after, on error) observe "
              "a run: every implementation is called and its return value is ignored. The specs live "
              "in toolkit/hookspecs.py."),
        numbers={"registration hooks": ", ".join(registration),
                 "lifecycle hooks": f"{len(hooks) - len(registration)} (ptm_before_/ptm_after_/ptm_on_..._error)"},
    ))

    # 2. The plugin: copied out, imported and registered.
    path = copy_plugin(out / "ptm-gradient-shap")
    load_plugin(pm, path)
    spec = pm.registry.get(ExplainerSpec, METHOD)
    sections.append(Section(
        "2. A plugin that adds GradientSHAP",
        text=(f"{path.name} implements one hook, ptm_register_explainers, registering an "
              f"ExplainerSpec '{METHOD}' whose factory builds an object with explain(texts, target=). "
              "It computes scores with Captum's GradientShap on the word embeddings and turns them "
              "into the toolkit's Explanation record with explanation_from_scores. Its pyproject.toml "
              "declares the entry point: pip install -e the folder and every ptm command finds it."),
        numbers={"registered by": spec.plugin, "summary": spec.summary, "reference": spec.reference},
    ))

    # 3. Models (one per training seed), and the contract check on the first.
    runs = {}
    for seed in size["seeds"]:
        run_dir = out / f"run-seed{seed}"
        metrics = pipeline.train(pm, model="minilm", data="reviews", out=run_dir, device=device,
                                 epochs=size["epochs"], max_length=64, seed=seed, progress=progress)
        runs[seed] = (run_dir, metrics["accuracy"])
    first_run = runs[size["seeds"][0]][0]
    _, fitter = pipeline.open_run(pm, first_run, device=device)
    try:
        check_explainer(pm, METHOD, fitter.model, fitter.tokenizer)
        contract = "passed"
    except AssertionError as error:
        contract = f"FAILED: {error}"
    shown = pipeline.explain(pm, first_run, list(EXAMPLES), method=METHOD, device=device)
    explain_views.save_png(shown, out / "gradient_shap.png")
    sections.append(Section(
        "3. The contract check, and the plugin at work",
        text=("toolkit.testing.check_explainer builds the explainer through the registry and checks "
              "each record: one finite score per token, words that sum their pieces, the model's "
              "predicted class and probability, an explicit target honoured, empty text refused. "
              f"Then `ptm explain RUN TEXT --method {METHOD}` works like any built-in method. MiniLM "
              f"fine-tuned on the 400 training reviews ({size['epochs']} epoch(s), seed(s) "
              f"{', '.join(map(str, size['seeds']))}) scores "
              f"{', '.join(f'{acc:.3f}' for _, acc in runs.values())} on the 200 test reviews."),
        numbers={"contract check": contract,
                 **{e.text: f"{e.target_label} ({e.probability:.2f}); top words {', '.join(e.top_words(3))}"
                    for e in shown}},
        images=(out / "gradient_shap.png",),
        html=explain_views.as_html(shown),
    ))

    # 4. Completeness, only in expectation.
    gaps = completeness(pm, fitter.model, fitter.tokenizer, EXAMPLES[0], size["completeness_samples"],
                        size["completeness_seeds"])
    sections.append(Section(
        "4. Completeness holds in expectation, not per explanation",
        text=("GradientSHAP's scores are an average over random baselines and random points on the path. "
              "Their expected sum is the target logit at the input minus the mean logit at the baselines "
              f"({gaps['expected']:+.3f} for '{gaps['text']}', class {gaps['target']}); one explanation "
              f"misses it by a sampling error. Over {size['completeness_seeds']} seeds, the gap's mean is "
              "near 0 and its spread shrinks roughly like 1/sqrt(n_samples)."),
        numbers={f"n_samples {n}": (f"mean gap {row['mean gap']:+.4f}, sd of the gap {row['sd of the gap']:.4f}, "
                                    f"largest |gap| {row['largest |gap|']:.4f}") for n, row in gaps["rows"].items()},
        images=(plot_gaps({n: row["gaps"] for n, row in gaps["rows"].items()}, out / "completeness.png"),),
    ))

    # 5. n_samples, chosen on the dev split with the first model.
    dev = [e.text for e in pipeline.load_data(pm, "reviews").split("dev")[: size["dev"]]]
    agreement = {n: seed_agreement(pm, fitter.model, fitter.tokenizer, dev, n) for n in size["samples"]}
    n_samples = choose_samples(agreement)
    sections.append(Section(
        "5. How many samples? Chosen on dev",
        text=(f"Each of {len(dev)} dev reviews explained with seeds 0 and 1; the mean Spearman correlation "
              "of their word scores says how much a ranking depends on the draws. The smallest n_samples "
              f"reaching {STABLE_AGREEMENT} (else the largest tried) is used on the test reviews: {n_samples}."),
        numbers={f"n_samples {n}": round(a, 3) for n, a in agreement.items()},
    ))

    # 6. Measured like the built-ins, on the test split, once per model.
    measured = {seed: measure(pm, run_dir, n_samples=n_samples, test=size["test"], sanity=size["sanity"],
                              device=device, progress=progress)
                for seed, (run_dir, _) in runs.items()}
    first = measured[size["seeds"][0]]
    sections.append(Section(
        "6. Measured like the built-ins",
        text=(f"`ptm explain evaluate RUN --data reviews --methods ig,{METHOD}` on {first['n']} test "
              "reviews: comprehensiveness (higher is better), sufficiency (lower is better), AUPRC "
              "against the human rationales; then the randomisation check on "
              f"{first['sanity']} of them: the Spearman correlation of the word scores after every "
              "layer is re-initialised (near 0 means the method depends on the model)."
              + ("" if quick else " One row per training seed.")),
        numbers={f"seed {seed}, {name}": method_row(r) for seed, m in measured.items() for name, r in m["rows"].items()}
        | {f"seed {seed}, {METHOD} Spearman after randomising every layer": round(m["spearman"], 3)
           for seed, m in measured.items()},
    ))

    claim, holds, numbers = verdict(measured, contract=contract, quick=quick)
    numbers = {"n_samples (chosen on dev)": n_samples, **numbers}
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
