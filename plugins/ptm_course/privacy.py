"""The `privacy` lesson, headless: the experiment of tutorials/privacy.ipynb, the same models in
the same order and the same claim (the notebook takes :func:`plan` and the helpers from here).

1. The (epsilon, delta) promise on a Laplace count, and an empirical check that can find a
   violation of it (it cannot certify that there is none).
2. DP-SGD at epsilon 8 on MiniLM's classification head, against two references: its
   non-private twin (the same parameters and settings, without clipping or noise) and the best
   non-private model (ordinary fine-tuning of every parameter).
3. The private run's epsilon under Opacus' three accountants.
4. A loss-threshold membership-inference audit of every model. Auditing each private model's
   twin as well separates what DP does from what training fewer parameters does.

Quick: one seed, the head pair and the fine-tuned model, every number with a 95% bootstrap
interval over the test reviews. Full: three seeds (mean and spread), plus the head at epsilon 1
and 3 (one seed, the curve); under five minutes on two cores, because the head's frozen encoder
runs once per review for all its runs (ptm_bert.frozen). A LoRA pair (`--trainable lora`, DP and
twin) is not part of it: at about a minute a run it would double the full mode.
Learning rates and epochs are the ones chosen earlier on SST-2's dev split (NOTES.md, sessions
3-4) and checked on the reviews' dev split; the test split is scored once per model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EPSILON = 8.0
SEEDS = (42, 1, 2)
# DP learning rates per strategy: a linear head on frozen features wants a large step, LoRA
# adapters 1e-2 (NOTES.md, sessions 3-4).
DP_LR = {"head": 5e-2, "lora": 1e-2}
# Epochs of the fine-tuned reference: the finetuning lesson's recipe (batch 8, lr 1e-4) for two
# epochs, in both modes (three would make the full mode's three seeds alone four minutes).
FINE_TUNE_EPOCHS = 2
BOOTSTRAP = 1000
# A lesson's runs are not resumed and only their end result is read: no checkpoint and no
# held-out scoring after every epoch (the same models and final scores, sooner).
LESSON_RUN = {"checkpoint": False, "eval_every_epoch": False}
AUDIT_FPR = "0.05"  # the lowest false-positive rate 200 non-members support (10 false positives)


@dataclass(frozen=True)
class Model:
    """One model the lesson trains.

    Attributes:
        name: its run folder under the lesson's folder.
        trainable: ``head``, ``lora`` or ``all``.
        epsilon: the DP-SGD budget; ``math.inf`` for a twin (DP-SGD's batches and settings, no
            clipping or noise); ``None`` for ordinary fine-tuning (small batches, AdamW, warm-up).
        seed: the training seed.
    """

    name: str
    trainable: str
    epsilon: float | None
    seed: int = 42

    @property
    def kind(self) -> str:
        if self.epsilon is None:
            return "fine-tuned"
        return "twin" if math.isinf(self.epsilon) else "private"

    def options(self, quick: bool) -> dict[str, Any]:
        """The keyword arguments of ``pipeline.train`` for this model."""
        if self.epsilon is None:
            # The finetuning lesson's recipe (batch 8, lr 1e-4, FINE_TUNE_EPOCHS): the best
            # non-private model here, and the one that fits its training reviews most closely.
            return {"trainable": "all", "epochs": FINE_TUNE_EPOCHS, "max_length": 64, "seed": self.seed,
                    **LESSON_RUN}
        return {
            "privacy": "dp-sgd", "privacy_options": {"epsilon": self.epsilon},
            "trainable": self.trainable, "lr": DP_LR[self.trainable],
            "epochs": 5 if quick and self.trainable == "head" else 10, "seed": self.seed,
            **LESSON_RUN,
        }


def _eps(epsilon: float) -> str:
    return "inf" if math.isinf(epsilon) else f"{epsilon:g}"


def plan(quick: bool) -> list[Model]:
    """The models, in training order: per seed the head pair and the fine-tuned model."""
    models = []
    for seed in SEEDS[:1] if quick else SEEDS:
        suffix = "" if seed == SEEDS[0] else f"-seed-{seed}"
        for epsilon in (EPSILON, math.inf):
            models.append(Model(f"head-eps-{_eps(epsilon)}{suffix}", "head", epsilon, seed))
        models.append(Model(f"fine-tuned{suffix}", "all", None, seed))
    if not quick:
        models += [Model(f"head-eps-{e:g}", "head", e) for e in (1.0, 3.0)]
    return models


def correct_on_test(pm: Any, run_dir: str | Path, *, device: str = "auto") -> Any:
    """Whether the model in ``run_dir`` labels each test review right (a numpy bool array)."""
    import numpy as np

    from toolkit import pipeline

    rows = pipeline.load_data(pm, "reviews").split("test")
    predicted = pipeline.predict(pm, run_dir, [e.text for e in rows], device=device)
    names = [p["label"] for p in predicted]
    labels = pipeline.open_run(pm, run_dir, device=device)[1].label_names
    return np.array([labels[e.label] == name for e, name in zip(rows, names)])


def paired_gap(better: Any, worse: Any, *, samples: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of ``better`` minus that of ``worse`` on the same test reviews, with a 95%
    paired bootstrap interval (the reviews resampled, both models scored on each resample)."""
    import numpy as np

    better, worse = np.asarray(better, float), np.asarray(worse, float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(better), size=(samples, len(better)))
    gaps = better[picks].mean(axis=1) - worse[picks].mean(axis=1)
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(better.mean() - worse.mean()), float(low), float(high)


def spread(values: list[float]) -> str:
    """Mean and the range over seeds, e.g. ``0.031 (0.010 to 0.055, 3 seeds)``."""
    return f"{sum(values) / len(values):.3f} ({min(values):.3f} to {max(values):.3f}, {len(values)} seeds)"


def _seeds(models: list[Model]) -> list[int]:
    return sorted({m.seed for m in models}, key=SEEDS.index)


def _find(models: list[Model], trainable: str, kind: str, seed: int) -> str:
    epsilon = {"private": EPSILON, "twin": math.inf, "fine-tuned": None}[kind]
    return next(m.name for m in models if (m.trainable, m.epsilon, m.seed) == (trainable, epsilon, seed))


def price_of_privacy(models: list[Model], correct: dict[str, Any]) -> dict[int, dict[str, tuple[float, float, float]]]:
    """Per seed: how much more accurate the head's twin and the fine-tuned model are than the
    private head, each ``(gap, low, high)`` with a 95% paired bootstrap interval."""
    price = {}
    for seed in _seeds(models):
        private = correct[_find(models, "head", "private", seed)]
        price[seed] = {
            "twin": paired_gap(correct[_find(models, "head", "twin", seed)], private),
            "fine-tuned model": paired_gap(correct[_find(models, "all", "fine-tuned", seed)], private),
        }
    return price


def accuracy_interval(correct: Any, *, samples: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy on the test reviews with a 95% bootstrap interval: ``(accuracy, low, high)``."""
    import numpy as np

    correct = np.asarray(correct, float)
    picks = np.random.default_rng(seed).integers(0, len(correct), size=(samples, len(correct)))
    low, high = np.percentile(correct[picks].mean(axis=1), [2.5, 97.5])
    return float(correct.mean()), float(low), float(high)


def verdict(check: Any, models: list[Model], metrics: dict[str, Any], correct: dict[str, Any],
            attacks: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
    """The lesson's claim, whether this run bears it out, and the numbers behind it.

    The claim, for every seed: the Laplace check finds no violation; the private head learns
    (its accuracy's 95% interval lies above 0.5); privacy has a price against ordinary
    fine-tuning (the paired interval of the gap lies above 0); the attack beats chance against
    the fine-tuned model (its AUC interval lies above 0.5). With a LoRA pair among the models
    (a plan of one's own), DP must also lower the attack's mean AUC against LoRA below its
    twin's. The gap to the twin and the head's audit are reported, not claimed.
    """
    seeds = _seeds(models)
    price = price_of_privacy(models, correct)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    private_acc = [accuracy_interval(correct[_find(models, "head", "private", s)]) for s in seeds]
    fine = [attacks[_find(models, "all", "fine-tuned", s)] for s in seeds]
    learns = all(low > 0.5 for _, low, _ in private_acc)
    has_price = all(price[s]["fine-tuned model"][1] > 0 for s in seeds)
    leak_found = all(a.auc_interval[0] > 0.5 for a in fine)
    numbers = {
        "mechanism: violation found": not check.bound_holds,
        "delta": metrics[_find(models, "head", "private", seeds[0])]["delta"],
        "private head accuracy": round(mean([a for a, _, _ in private_acc]), 3),
        "gap to its non-private twin": round(mean([price[s]["twin"][0] for s in seeds]), 3),
        "gap to the fine-tuned model": round(mean([price[s]["fine-tuned model"][0] for s in seeds]), 3),
    }
    for trainable, kind in (("all", "fine-tuned"), ("head", "twin"), ("head", "private"), ("lora", "twin"), ("lora", "private")):
        if any(m.trainable == trainable for m in models):
            label = {"all": "fine-tuned model", "head": "head", "lora": "LoRA"}[trainable]
            label = label if kind == "fine-tuned" else f"{kind} {label}"
            numbers[f"attack AUC, {label}"] = round(mean([attacks[_find(models, trainable, kind, s)].auc for s in seeds]), 3)
    if len(seeds) == 1:
        _, low, high = private_acc[0]
        numbers["private head accuracy, 95% interval"] = f"{low:.3f} to {high:.3f}"
        for ref in ("twin", "fine-tuned model"):
            _, low, high = price[seeds[0]][ref]
            numbers[f"gap to the {ref}, 95% interval"] = f"{low:+.3f} to {high:+.3f}"
        low, high = fine[0].auc_interval
        numbers["attack AUC, fine-tuned model, 95% interval"] = f"{low:.3f} to {high:.3f}"
    dp_lowers = True
    if "attack AUC, twin LoRA" in numbers:
        dp_lowers = numbers["attack AUC, private LoRA"] < numbers["attack AUC, twin LoRA"]
    holds = bool(check.bound_holds and learns and has_price and leak_found and dp_lowers)
    over = "" if len(seeds) == 1 else f" (means over {len(seeds)} seeds; every seed's interval agrees)"
    claim = (f"At epsilon {EPSILON:g} (delta 1/(10 N)) the private head learns (accuracy "
             f"{numbers['private head accuracy']:.3f}, above chance) at a price: "
             f"{numbers['gap to its non-private twin']:+.3f} against its non-private twin and "
             f"{numbers['gap to the fine-tuned model']:+.3f} against ordinary fine-tuning (above 0); the "
             f"membership attack beats chance against the fine-tuned model (AUC "
             f"{numbers['attack AUC, fine-tuned model']:.3f})")
    if "attack AUC, twin LoRA" in numbers:
        claim += (f", and DP lowers it against LoRA ({numbers['attack AUC, private LoRA']:.3f} against "
                  f"{numbers['attack AUC, twin LoRA']:.3f} for its twin)")
    return claim + over + ".", holds, numbers


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from ptm_dp.audit import audit_run, plot_roc
    from ptm_dp.dpsgd import ACCOUNTANTS, accountant_epsilons
    from ptm_dp.mechanisms import empirical_check, plot_check
    from ptm_dp.sweep import plot_sweep
    from toolkit import pipeline
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    sections = []
    # 1. The promise, on a query: the count of a dataset with and without one person.
    texts = [e.text for e in pipeline.load_data(pm, "reviews").split("all")]
    check = empirical_check(texts, query="count", mechanism="laplace", epsilon=1.0,
                            samples=20_000 if quick else 200_000)
    plot_check(check, out / "mechanism.png")
    sections.append(Section(
        "1. The promise on one query",
        text=(f"A mechanism M is (epsilon, delta)-DP if for datasets D and D' that differ in one "
              f"person, P[M(D) in S] <= e^epsilon P[M(D') in S] + delta for every set of outputs S. "
              f"The Laplace mechanism releases the count of reviews ({check.true_d:g} on D, "
              f"{check.true_d_prime:g} on D') with noise of scale {check.scale:.3g}; over "
              f"{check.samples:,} releases the largest log ratio of the two histograms is "
              f"{check.max_log_ratio:.3f} against epsilon {check.epsilon:g} (sampling slack "
              f"{check.log_ratio_slack:.3f}): "
              + ("no violation found. A check like this can find a violation, never certify DP: "
                 "the guarantee comes from the calibration, scale = sensitivity / epsilon."
                 if check.bound_holds else "a VIOLATION: the mechanism is mis-calibrated.")),
        images=(out / "mechanism.png",),
    ))

    # 2. The models: the private head, its twin and ordinary fine-tuning (per seed), as the notebook.
    models = plan(quick)
    metrics, correct = {}, {}
    for model in models:
        metrics[model.name] = pipeline.train(pm, model="minilm", data="reviews", out=out / model.name,
                                             device=device, progress=progress, **model.options(quick))
        correct[model.name] = correct_on_test(pm, out / model.name, device=device)
    seeds = _seeds(models)
    price = price_of_privacy(models, correct)
    if quick:
        price_numbers = {f"price against the {ref}": f"{gap:+.3f} (95% interval {low:+.3f} to {high:+.3f})"
                         for ref, (gap, low, high) in price[seeds[0]].items()}
    else:
        price_numbers = {f"price against the {ref}": spread([price[s][ref][0] for s in seeds])
                         for ref in price[seeds[0]]}
    table = {}
    for m in models:
        r = metrics[m.name]
        private = (f", epsilon {r['epsilon']:.2f} at delta {r['delta']:.2g}, noise multiplier "
                   f"{r['noise_multiplier']:.3f}") if m.kind == "private" else ""
        table[m.name] = (f"accuracy {r['accuracy']:.3f}{private}, {r['trainable_parameters']:,} parameters, "
                         f"{r['seconds']:.0f} s")
    rows = [{"trainable": m.trainable, "target_epsilon": m.epsilon, "accuracy": metrics[m.name]["accuracy"]}
            for m in models if m.trainable == "head" and m.seed == seeds[0]]
    plot_sweep(rows, out / "strategies.png")
    private_run = _find(models, "head", "private", seeds[0])
    private_metrics = metrics[private_run]
    sections.append(Section(
        "2. DP-SGD and the price of privacy",
        text=(f"DP-SGD trains MiniLM's classification head ({private_metrics['trainable_parameters']:,} "
              f"parameters) on the 400 training reviews: Poisson-sampled batches of 256, each "
              f"example's gradient clipped to norm C = 1, Gaussian noise of standard deviation "
              f"sigma C added to their sum, with sigma = {private_metrics['noise_multiplier']:.3f} "
              f"calibrated so that the run spends epsilon {EPSILON:g} at delta = 1/(10 N) = "
              f"{private_metrics['delta']:.2g}. sigma depends on epsilon, delta, the sample rate and "
              "the number of steps only; what grows with the number d of trained parameters is the "
              "noise's norm, about sigma C sqrt(d), against a clipped gradient of norm at most C per "
              "example. The price of privacy is measured against the twin (the same parameters and "
              "settings, without clipping or noise) and against the best non-private model "
              "(ordinary fine-tuning of every parameter), with 95% paired bootstrap intervals over "
              "the 200 test reviews"
              + ("." if quick else f"; the numbers are means and ranges over seeds {', '.join(map(str, seeds))}.")),
        numbers={**price_numbers, **table},
        images=(out / "strategies.png",),
    ))

    # 3. One run, three accountants.
    spent = accountant_epsilons(private_metrics)
    sections.append(Section(
        "3. Three accountants, one run",
        text=(f"The run {private_run} added noise multiplier {private_metrics['noise_multiplier']:.3f} "
              f"at sample rate {private_metrics['sample_rate']:.3f} for {private_metrics['steps']} "
              "steps. How much epsilon that spends depends on the analysis: "
              + "; ".join(f"{n.upper()} ({ACCOUNTANTS[n]})" for n in ACCOUNTANTS) + "."),
        numbers={n.upper(): round(value, 3) for n, value in spent.items()},
    ))

    # 4. The attack on every model at epsilon 8, its twin and the fine-tuned one.
    attacks = {}
    for model in models:
        if model.epsilon in (EPSILON, math.inf, None):
            attacks[model.name], _ = audit_run(pm, out / model.name, device=device)
    shown = [m.name for m in models if m.seed == seeds[0] and m.name in attacks and m.kind != "twin"]
    for run_name in shown:
        plot_roc(attacks[run_name], out / run_name / "audit_roc.png", title=run_name)
    audit_numbers = {}
    for run_name, a in attacks.items():
        tpr, (low, high) = a.tpr_at_fpr[AUDIT_FPR], a.tpr_interval[AUDIT_FPR]
        audit_numbers[run_name] = (f"AUC {a.auc:.3f} ({a.auc_interval[0]:.3f} to {a.auc_interval[1]:.3f}), "
                                   f"TPR at 5% FPR {tpr:.3f} ({low:.3f} to {high:.3f})")
    sections.append(Section(
        "4. Membership inference",
        text=("The attacker sees a review and the model's loss on it, and guesses 'it was in the "
              "training set' when the loss is low (Yeom et al. 2018): 200 training reviews (members) "
              "against the 200 test reviews (non-members). AUC 0.5 is guessing. The TPR is read at 5% "
              "FPR, the lowest rate 200 non-members support (10 false positives); the intervals are "
              "95% bootstrap intervals. Each private model is audited beside its twin, so that what "
              "DP does is not confused with what training few parameters with large batches does; "
              "the fine-tuned model shows what a model that fits its training reviews leaks."),
        numbers=audit_numbers,
        images=tuple(out / n / "audit_roc.png" for n in shown),
    ))

    claim, holds, numbers = verdict(check, models, metrics, correct, attacks)
    numbers["epsilon (RDP / PRV / GDP)"] = " / ".join(f"{spent[k]:.2f}" for k in ACCOUNTANTS)
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
