"""The `privacy` lesson, headless: the (epsilon, delta) promise on a query, DP-SGD strategies
against their non-private twins, three accountants on one run, and a membership-inference
audit of a private against an over-trained non-private model.

It uses the public API of the toolkit and of the ``ptm_dp`` plugin (``ptm privacy ...`` runs
the same functions).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

# Learning rates per strategy under DP (NOTES.md, sessions 3-4): a linear head on frozen
# features wants a large step, LoRA adapters 1e-2, whole layers smaller ones.
DP_LR = {"head": 5e-2, "top2": 2e-3, "lora": 1e-2, "all": 5e-4}
# The claim: the best strategy at epsilon 8 stays this close to its non-private twin.
MAX_GAP = 0.05


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
              f"{check.max_log_ratio:.3f} against epsilon {check.epsilon:g}: the bound "
              f"{'holds' if check.bound_holds else 'is BROKEN'}."),
        images=(out / "mechanism.png",),
    ))

    # 2. DP-SGD: strategies at epsilon 8 and their non-private twins (same parameters trained).
    strategies = ["head"] if quick else ["head", "top2", "lora", "all"]
    epsilons = {s: [8.0, math.inf] for s in strategies}
    if not quick:
        epsilons["head"] = [1.0, 3.0, 8.0, math.inf]  # the privacy-utility curve, on the cheapest
    epochs = 5 if quick else 10
    rows = []
    for strategy in strategies:
        for epsilon in epsilons[strategy]:
            name = f"{strategy}-eps-{'inf' if math.isinf(epsilon) else f'{epsilon:g}'}"
            metrics = pipeline.train(
                pm, model="minilm", data="reviews", out=out / name, device=device, privacy="dp-sgd",
                privacy_options={"epsilon": epsilon}, trainable=strategy, lr=DP_LR[strategy],
                epochs=epochs, progress=progress,
            )
            rows.append({
                "trainable": strategy, "trainable_parameters": metrics["trainable_parameters"],
                "target_epsilon": epsilon, "epsilon": metrics["epsilon"], "delta": metrics["delta"],
                "noise_multiplier": metrics["noise_multiplier"], "accuracy": metrics["accuracy"],
                "f1": metrics["f1"], "seconds": metrics["seconds"], "run": name,
            })
    plot_sweep(rows, out / "strategies.png")
    table = {
        f"{r['trainable']} at epsilon {r['target_epsilon']:g}":
            f"accuracy {r['accuracy']:.3f}, epsilon spent {r['epsilon']:.2f}, {r['seconds']:.0f} s, "
            f"{r['trainable_parameters']:,} parameters"
        for r in rows
    }
    gaps = {
        s: next(r["accuracy"] for r in rows if r["trainable"] == s and math.isinf(r["target_epsilon"]))
        - next(r["accuracy"] for r in rows if r["trainable"] == s and r["target_epsilon"] == 8.0)
        for s in strategies
    }
    best = min(gaps, key=gaps.get)
    sections.append(Section(
        "2. DP-SGD: which parameters to train",
        text=(f"Each strategy trains MiniLM on the 480 training reviews for {epochs} epochs with "
              "Poisson-sampled batches of 256, per-example gradients clipped to norm 1 and Gaussian "
              "noise calibrated so that the whole run spends epsilon (delta = 1/N). Its twin at "
              "epsilon inf trains the same parameters with the same settings, without clipping or "
              "noise. Noise grows with the number of trained parameters it must cover: the fewer, "
              f"the smaller the cost. Smallest gap at epsilon 8: {best}, {gaps[best]:+.3f}."),
        numbers=table,
        images=(out / "strategies.png",),
    ))

    # 3. One run, three accountants.
    private = next(r["run"] for r in rows if r["trainable"] == best and r["target_epsilon"] == 8.0)
    private_metrics = pipeline.open_run(pm, out / private)[0].read_json("metrics.json")
    spent = accountant_epsilons(private_metrics)
    sections.append(Section(
        "3. Three accountants, one run",
        text=(f"The run {private} added noise multiplier {private_metrics['noise_multiplier']:.3f} "
              f"at sample rate {private_metrics['sample_rate']:.3f} for {private_metrics['steps']} "
              "steps. How much epsilon that spends depends on the analysis: "
              + "; ".join(f"{name.upper()} ({ACCOUNTANTS[name]})" for name in ACCOUNTANTS) + "."),
        numbers={name.upper(): round(value, 3) for name, value in spent.items()},
    ))

    # 4. The attack: members (training reviews) against non-members (test reviews).
    leaky = pipeline.train(pm, model="minilm", data="reviews", out=out / "non-private-overtrained",
                           device=device, epochs=2 if quick else 5, progress=progress)
    attacks = {}
    for label, run_dir in (("non-private, over-trained", out / "non-private-overtrained"), (f"private ({private})", out / private)):
        result, _ = audit_run(pm, run_dir, device=device)
        plot_roc(result, run_dir / "audit_roc.png", title=label)
        attacks[label] = result
    sections.append(Section(
        "4. Membership inference",
        text=("The attacker sees a review and the model's loss on it, and guesses 'it was in the "
              "training set' when the loss is low (Yeom et al. 2018). AUC 0.5 is guessing. The "
              "non-private model trained until it fits its training reviews "
              f"(accuracy {leaky['accuracy']:.3f}); the private one cannot fit any single review "
              "closely: that is what epsilon bounds."),
        numbers={label: f"AUC {a.auc:.3f}, TPR {a.tpr_at_fpr['0.01']:.3f} at 1% FPR" for label, a in attacks.items()},
        images=tuple(d / "audit_roc.png" for d in (out / "non-private-overtrained", out / private)),
    ))

    leaky_auc, private_auc = (a.auc for a in attacks.values())
    holds = check.bound_holds and gaps[best] <= MAX_GAP and leaky_auc > private_auc
    numbers = {
        "mechanism bound held": check.bound_holds,
        "best strategy at epsilon 8": best,
        "its accuracy at epsilon 8": round(next(r["accuracy"] for r in rows if r["run"] == private), 3),
        "gap to its non-private twin": round(gaps[best], 3),
        "epsilon (RDP / PRV / GDP)": " / ".join(f"{spent[k]:.2f}" for k in ACCOUNTANTS),
        "attack AUC, non-private": round(leaky_auc, 3),
        "attack AUC, private": round(private_auc, 3),
    }
    claim = (f"At epsilon 8 the best strategy ({best}) stays within {MAX_GAP:.2f} of the accuracy of "
             f"its non-private twin on held-out reviews ({gaps[best]:+.3f}), and the membership attack "
             f"does better against the over-trained non-private model (AUC {leaky_auc:.3f}) than "
             f"against the private one ({private_auc:.3f}).")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
