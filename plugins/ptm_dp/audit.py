"""A membership-inference audit: can an attacker tell training examples from unseen ones?

The attack is the loss threshold of Yeom et al. (2018), written out by hand because it is what
the privacy lesson teaches: a model fits its training examples better than unseen ones, so an
example with a low loss is guessed to be a member. Sweeping the threshold gives a ROC curve
(scikit-learn computes it). Following Carlini et al. (2022) we report, besides the area under
the curve, the true-positive rate at low false-positive rates: an attack that confidently
identifies even a few members is a real leak, whatever its average accuracy.

A rate is only as good as the number of non-members behind it: at FPR f among n non-members the
threshold lets through f * n of them, and below :data:`MIN_FALSE_POSITIVES` false positives the
threshold's own FPR is a guess. So the TPR is reported only at the rates of :data:`FPRS` with
f * n >= MIN_FALSE_POSITIVES (with 200 non-members, 5% and up), and every number comes with a
bootstrap interval (members and non-members resampled, the threshold chosen again each time).

DP bounds every such attack: at (epsilon, delta)-DP, TPR <= e^epsilon * FPR + delta and
1 - FPR <= e^epsilon * (1 - TPR) + delta at every threshold (Kairouz et al. 2015), which
:func:`dp_bound` draws next to the measured curve.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

FPRS = (0.001, 0.01, 0.05)
"""The false-positive rates at which the true-positive rate is reported, where supported."""

MIN_FALSE_POSITIVES = 5
"""The TPR at FPR f is reported only if f * non-members >= this many false positives."""

MIN_EXAMPLES = 2 * MIN_FALSE_POSITIVES
"""The fewest members, and non-members, an audit accepts: with fewer non-members no rate below
50% rests on MIN_FALSE_POSITIVES false positives, so the low-FPR region the audit is about cannot
be seen at all, and the AUC of one member against one non-member is 0, 0.5 or 1 by luck."""

BOOTSTRAP_SAMPLES = 1000
"""Resamples behind each interval (percentile bootstrap, 95%)."""


@dataclass(frozen=True)
class AuditResult:
    """The attack's success on one model.

    Attributes:
        auc: the area under the ROC curve (0.5 is guessing); ``auc_interval`` its 95% bootstrap
            interval.
        tpr_at_fpr: the TPR at each false-positive rate of :data:`FPRS` that the non-members
            support (keys ``"0.05"``...); ``tpr_interval`` the 95% bootstrap interval of each.
        lowest_fpr: the lowest rate reported: MIN_FALSE_POSITIVES / non-members.
        fpr_resolution: one false positive among the non-members (the plot's floor).
    """

    auc: float
    auc_interval: tuple[float, float]
    tpr_at_fpr: dict[str, float]
    tpr_interval: dict[str, tuple[float, float]]
    members: int
    non_members: int
    member_loss: float
    non_member_loss: float
    lowest_fpr: float
    fpr_resolution: float
    epsilon: float | None = None
    delta: float | None = None
    fpr: list[float] = field(default_factory=list, repr=False)
    tpr: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("fpr")
        out.pop("tpr")
        return out


def supported_fprs(non_members: int) -> tuple[float, ...]:
    """The rates of :data:`FPRS` at which ``non_members`` give enough false positives."""
    return tuple(f for f in FPRS if f * non_members >= MIN_FALSE_POSITIVES - 1e-9)


def check_sizes(members: int, non_members: int, fprs: Sequence[float] | None = None, *,
                fix: str = "give larger --members and --non-members files") -> None:
    """Refuse an audit too small to mean anything: fewer than :data:`MIN_EXAMPLES` on a side,
    or a chosen false-positive rate that rests on fewer than MIN_FALSE_POSITIVES false positives.

    ``fprs`` are rates the caller chose (``--fpr``); by default the rates of :data:`FPRS` that
    the non-members support are reported and the others left out.
    """
    if min(members, non_members) < MIN_EXAMPLES:
        raise ConfigError(
            f"the audit has {members} member{'s' * (members != 1)} and {non_members} non-member"
            f"{'s' * (non_members != 1)}, fewer than the {MIN_EXAMPLES} of each it needs (below "
            f"that, no false-positive rate under 50% rests on {MIN_FALSE_POSITIVES} false "
            f"positives); {fix}"
        )
    for rate in fprs or ():
        if rate * non_members < MIN_FALSE_POSITIVES - 1e-9:
            needed = math.ceil(MIN_FALSE_POSITIVES / rate - 1e-9)
            lowest = math.ceil(MIN_FALSE_POSITIVES / non_members * 1e4) / 1e4
            raise ConfigError(
                f"--fpr {rate:g} needs at least {needed:,} non-members ({MIN_FALSE_POSITIVES} false "
                f"positives at {rate:.2%}), and the audit has {non_members}; give more "
                f"--non-members, or --fpr {lowest:g} or more"
            )


def _tpr_at(fpr: Any, tpr: Any, target: float) -> float:
    """The best TPR of a threshold whose FPR is at most ``target`` (ROC points from sklearn)."""
    within = tpr[fpr <= target + 1e-12]
    return float(within.max()) if len(within) else 0.0


def _auc_and_tprs(members: Any, others: Any, targets: Sequence[float]) -> tuple[float, list[float]]:
    """What sklearn's ROC gives, from sorting alone (the bootstrap calls this 1,000 times).

    AUC is the Mann-Whitney statistic: the chance that a member scores above a non-member
    (ties count half). At FPR f the best threshold lets through k = floor(f n) non-members, so
    it sits just above the (k+1)-th highest non-member score and catches every member above it.
    """
    import numpy as np
    from scipy.stats import rankdata

    scores = -np.concatenate([members, others])  # the lower the loss, the more likely a member
    ranks = rankdata(scores)[: len(members)]
    auc = float((ranks.sum() - len(members) * (len(members) + 1) / 2) / (len(members) * len(others)))
    descending = np.sort(-others)[::-1]
    tprs = []
    for target in targets:
        k = int(math.floor(target * len(others) + 1e-9))
        tprs.append(1.0 if k >= len(others) else float(np.mean(-members > descending[k])))
    return auc, tprs


def loss_threshold_attack(
    member_losses: Sequence[float],
    non_member_losses: Sequence[float],
    *,
    epsilon: float | None = None,
    delta: float | None = None,
    bootstrap: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    fprs: Sequence[float] | None = None,
) -> AuditResult:
    """Score each example by its negated loss and measure how well that separates members.

    ``fprs`` are the rates to report the TPR at, each of which the non-members must support
    (see :func:`check_sizes`); by default those of :data:`FPRS` that they support.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    check_sizes(len(member_losses), len(non_member_losses), fprs)
    members = np.asarray(member_losses, dtype=float)
    others = np.asarray(non_member_losses, dtype=float)
    targets = supported_fprs(len(others)) if fprs is None else tuple(fprs)
    truth = np.concatenate([np.ones(len(members)), np.zeros(len(others))])
    # The attack: the lower the loss, the more likely a member.
    score = -np.concatenate([members, others])
    # every threshold kept: dropping collinear points can drop the best one under a target FPR
    fpr, tpr, _ = roc_curve(truth, score, drop_intermediate=False)
    rng = np.random.default_rng(seed)
    resampled = [
        _auc_and_tprs(rng.choice(members, len(members)), rng.choice(others, len(others)), targets)
        for _ in range(bootstrap)
    ]

    def interval(values: list[float]) -> tuple[float, float]:
        if not values:
            return (math.nan, math.nan)
        low, high = np.percentile(values, [2.5, 97.5])
        return (float(low), float(high))

    return AuditResult(
        auc=float(roc_auc_score(truth, score)),
        auc_interval=interval([auc for auc, _ in resampled]),
        tpr_at_fpr={f"{t:g}": _tpr_at(fpr, tpr, t) for t in targets},
        tpr_interval={f"{t:g}": interval([tprs[i] for _, tprs in resampled]) for i, t in enumerate(targets)},
        members=len(members),
        non_members=len(others),
        member_loss=float(members.mean()),
        non_member_loss=float(others.mean()),
        lowest_fpr=MIN_FALSE_POSITIVES / len(others),
        # Below one false positive among the non-members, a rate cannot be measured at all.
        fpr_resolution=1.0 / len(others),
        epsilon=epsilon,
        delta=delta,
        fpr=fpr.tolist(),
        tpr=tpr.tolist(),
    )


def dp_bound(fpr: Sequence[float], epsilon: float, delta: float) -> list[float]:
    """The highest TPR any attack can reach at each FPR against an (epsilon, delta)-DP model."""
    if not math.isfinite(epsilon):
        return [1.0 for _ in fpr]
    return [min(1.0, math.exp(epsilon) * f + delta, 1 - math.exp(-epsilon) * (1 - delta - f))
            if f < 1 else 1.0 for f in fpr]


def plot_roc(result: AuditResult, path: str | Path, *, title: str = "") -> Path:
    """The ROC curve on log-log axes (low FPRs visible), chance, and the DP bound if any."""
    import numpy as np
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(5, 4.5), dpi=120)
    axes = figure.subplots()
    floor = result.fpr_resolution / 2
    fpr = np.clip(np.asarray(result.fpr), floor, 1)
    tpr = np.clip(np.asarray(result.tpr), floor, 1)
    axes.plot(fpr, tpr, label=f"loss-threshold attack (AUC {result.auc:.3f})", color="tab:red")
    grid = np.logspace(math.log10(floor), 0, 200)
    axes.plot(grid, grid, "--", color="grey", label="chance")
    if result.epsilon is not None and math.isfinite(result.epsilon):
        bound = dp_bound(grid.tolist(), result.epsilon, result.delta or 0.0)
        axes.plot(grid, bound, ":", color="tab:blue",
                  label=f"bound at ({result.epsilon:.2g}, {result.delta or 0:.2g})-DP")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1.05)
    axes.set_xlabel("false-positive rate")
    axes.set_ylabel("true-positive rate")
    axes.set_title(title or "membership inference")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def audit_run(pm: Any, run_dir: str | Path, *, members: str | None = None,
              non_members: str | None = None, device: str = "auto",
              fprs: Sequence[float] | None = None) -> tuple[AuditResult, Any]:
    """Attack a finished run: its own training examples (or ``members``) against held-out text.

    Without ``members`` the run's training examples are replayed from its config.json (same
    data, seed and limit); without ``non_members`` its held-out examples are used. The larger
    side is sampled down so that both sides have the same size. Every source is checked, in one
    line each, before the model scores anything: it must exist, be labelled for the run's task
    with labels the model has, and be large enough (:func:`check_sizes`).
    """
    import random

    from toolkit import pipeline

    folder, fitter = pipeline.open_run(pm, run_dir, device=device)
    config = folder.read_json("config.json")
    hyper = config.get("hyper") if isinstance(config.get("hyper"), dict) else {}
    seed = _recorded_int(folder, "seed", hyper.get("seed", 42))
    task = pipeline.run_task(pm, folder)

    def labelled(ref: Any, what: str, recorded: bool) -> Any:
        """The data at ``ref``, relabelled to the model's label indices."""
        if recorded:
            _check_recorded_data(pm, folder, ref, what)
        dataset = pipeline.load_data(pm, ref)
        pipeline.check_task(task, dataset, ref)
        model_labels = list(fitter.label_names)
        unknown = [name for name in dataset.label_names if name not in model_labels]
        if unknown:
            changed = "; it changed since training: give --members and --non-members" if recorded else ""
            raise ConfigError(
                f"{what} '{ref}' has labels {list(dataset.label_names)} but the model in {folder.path} "
                f"knows only {model_labels} ({', '.join(map(repr, unknown))} not among them)"
                + (changed or f"; give {what} labelled with the model's labels")
            )
        return _relabelled(dataset, model_labels)

    if members is None or non_members is None:
        dataset = labelled(config.get("data"), "the run's training data", recorded=True)
        limit = config.get("limit")
        train_rows, test_rows = pipeline.training_split(
            dataset, seed=seed, limit=None if limit is None else _recorded_int(folder, "limit", limit))
        if config.get("eval_data"):
            test_rows = labelled(config["eval_data"], "the run's --eval-data", recorded=True).evaluation_split()
    if members is None:
        member_rows = train_rows
    else:
        given = labelled(members, "--members", recorded=False)
        member_rows = given.split("train" if "train" in given.splits else "all")
    other_rows = (test_rows if non_members is None
                  else labelled(non_members, "--non-members", recorded=False).evaluation_split())
    short = []
    if members is None and len(member_rows) < MIN_EXAMPLES:
        short.append(f"the run trained on only {len(member_rows)}: give --members")
    if non_members is None and len(other_rows) < MIN_EXAMPLES:
        short.append(f"the run held out only {len(other_rows)}: give --non-members")
    fix = (f"{' and '.join(short)} with {MIN_EXAMPLES} or more examples" if short
           else "give larger --members and --non-members files")
    check_sizes(len(member_rows), len(other_rows), fix=fix)
    n = min(len(member_rows), len(other_rows))
    check_sizes(n, n, fprs)  # both sides are sampled down to n
    rng = random.Random(seed)
    member_rows = rng.sample(list(member_rows), n)
    other_rows = rng.sample(list(other_rows), n)
    metrics = folder.read_json("metrics.json")
    epsilon, delta = metrics.get("epsilon"), metrics.get("delta")
    private = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (epsilon, delta))
    result = loss_threshold_attack(
        example_losses(fitter, member_rows),
        example_losses(fitter, other_rows),
        epsilon=epsilon if private else None,
        delta=delta if private else None,
        fprs=fprs,
    )
    return result, folder


def example_losses(fitter: Any, examples: Sequence[Any]) -> list[float]:
    """Each labelled example's cross-entropy, -log p(its label), what the attack sees of a model.

    Computed from the trainer contract's ``predict_proba(texts, text_pairs=...)``, so the audit
    works for any trainer's runs, not only the built-in one's.
    """
    import numpy as np

    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    probs = (fitter.predict_proba(texts, text_pairs=pairs) if any(p is not None for p in pairs)
             else fitter.predict_proba(texts))
    if hasattr(probs, "detach"):  # a torch tensor
        probs = probs.detach().cpu().numpy()
    probs = np.asarray(probs, dtype=np.float64)
    picked = probs[np.arange(len(examples)), [e.label for e in examples]]
    return (-np.log(np.clip(picked, 1e-12, None))).tolist()


def _check_recorded_data(pm: Any, folder: Any, ref: Any, what: str) -> None:
    """A data reference a run recorded: present, and a file that still exists."""
    from toolkit.registry import DatasetSpec

    config = folder.path / "config.json"
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{config} records no training data; give --members and --non-members")
    if ref in pm.registry.ids(DatasetSpec) or re.match(r"^[A-Za-z][\w+.-]*:", ref):
        return  # a dataset id, or hf:NAME
    path = Path(ref).expanduser()
    if ("/" in ref or path.suffix) and not path.exists():
        # Runs record absolute paths; an older run's relative one is read from the current folder.
        where = "" if path.is_absolute() else f" in {Path.cwd()}"
        raise ConfigError(
            f"{what} {ref} no longer exists{where} ({config} records it); put the file back, "
            "or give --members and --non-members"
        )


def _recorded_int(folder: Any, name: str, value: Any) -> int:
    """A whole number the run's config.json records (a seed, a limit, a length)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value != int(value)):
        raise ConfigError(
            f"{folder.path / 'config.json'} records {name} {value!r}, not a whole number (damaged?); "
            "train the run again"
        )
    return int(value)


def _relabelled(dataset: Any, model_labels: list[str]) -> Any:
    """``dataset`` with each label index turned into the model's index for the same name (data
    that holds some of the model's labels, in another order, scores the labels it names)."""
    from dataclasses import replace

    to_model = [model_labels.index(name) for name in dataset.label_names]
    if to_model == list(range(len(model_labels))):
        return dataset
    splits = {name: [replace(e, label=to_model[e.label]) for e in rows] for name, rows in dataset.splits.items()}
    return replace(dataset, label_names=tuple(model_labels), splits=splits)
