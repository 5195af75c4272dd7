"""Laplace and Gaussian mechanisms on a query over texts, and a check that they keep their promise.

A mechanism M is (epsilon, delta)-differentially private when, for every pair of neighbouring
datasets D, D' and every set S of outputs, ``P[M(D) in S] <= e^epsilon * P[M(D') in S] + delta``.

The noise is calibrated by diffprivlib, not here: ``Laplace`` (scale = sensitivity / epsilon,
pure epsilon-DP) and ``GaussianAnalytic`` (Balle & Wang, 2018: the smallest sigma that gives
(epsilon, delta)-DP, for any epsilon > 0). :func:`empirical_check` samples M on a dataset and on
a neighbour, and measures from histograms how close the two output distributions come to
breaking the inequality above.

An empirical check can only find a violation, never certify DP: it looks at one pair D, D', at
histogram bins rather than every set S, and at finitely many samples, so a mechanism that leaks
on another pair, in a narrow set of outputs or with a small probability passes it. The guarantee
comes from the calibration (the sensitivity and the noise's scale, derived on paper); the check
is a test that would catch a mis-calibrated one, such as noise of the wrong scale.

numpy, diffprivlib and matplotlib are imported inside the functions that use them, so that
importing this module (and ``ptm --help``) stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from toolkit.errors import ConfigError, PtmError
from toolkit.registry import closest

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

DEFAULT_CLIP = 50
"""``mean-length`` clips every text's word count to [0, DEFAULT_CLIP] (the L in L/n)."""

DEFAULT_SAMPLES = 20_000
"""How many times :func:`empirical_check` runs the mechanism on each of D and D'."""

GAUSSIAN_DELTA = 1e-5
"""The delta the Gaussian mechanism uses when none is given."""

MECHANISMS: tuple[str, ...] = ("laplace", "gaussian")
"""The mechanisms: ``laplace`` (pure epsilon-DP) and ``gaussian`` (analytic, (epsilon, delta))."""

MIN_BIN_COUNT = 100
"""A histogram bin takes part in the log-ratio measurement only if it holds at least this many
samples from each of M(D) and M(D'): the log of a count of 100 is known to about +-0.1 (its
Poisson standard error is 1/sqrt(100)), and below that the normal approximation behind the
slack stops being trustworthy."""

FALSE_ALARM_RATE = 0.01
"""The chance that :func:`empirical_check` reports a correctly calibrated mechanism as broken.

The sampling slack is ``z`` standard errors, with ``z`` the normal quantile that leaves this much
probability for all bins and both directions together (a Bonferroni correction)."""

MIN_SAMPLES = 1_000
"""Fewer samples than this leave too few histogram bins with enough counts to measure anything."""

MAX_SAMPLES = 2_000_000
"""More samples than this take minutes (diffprivlib draws one at a time, about 5 us each) and
add nothing a tenth of them would not show; 10^11, a slip of the finger, would need 745 GiB."""

MAX_NOISE_SCALE = 1e100
"""Noise scales above this are refused: the variance diffprivlib reports (the scale squared)
overflows past 1e154, and noise this large is no release at all."""

NOISE_RESOLUTION = 1e-9
"""Noise scales below this fraction of the answer are refused: float64 keeps about 16 digits, so
such noise is rounded in steps coarse enough to distort its histogram."""

MAX_SEED = 2**32 - 1
"""numpy's RandomState takes seeds 0 to 2^32 - 1."""


# -- queries -----------------------------------------------------------------------------------


def count(texts: Sequence[str]) -> float:
    """The number of texts.

    Neighbours: add/remove one text. Adding or removing one person's text changes the count by
    exactly 1, so the sensitivity is 1 whatever the data.
    """
    return float(len(texts))


def mean_length(texts: Sequence[str], clip: int = DEFAULT_CLIP) -> float:
    """The mean word count of the texts, each text's count clipped to [0, ``clip``].

    Neighbours: replace one text (D and D' have the same size n, which is treated as public).
    Every clipped length lies in [0, L] with L = ``clip``, so replacing one text changes the sum
    of lengths by at most L and the mean by at most L/n: the sensitivity is ``clip / n``. Without
    the clip one very long text could move the mean arbitrarily far, and no finite noise would do.
    """
    if not texts:
        raise ConfigError("the mean length of no texts is undefined; pass at least one text")
    return sum(min(len(text.split()), clip) for text in texts) / len(texts)


@dataclass(frozen=True)
class Query:
    """A numeric query over a list of texts, with what one person's text can change about it.

    Attributes:
        id: the name used on the command line (``count``, ``mean-length``).
        summary: one line for people.
        neighbours: the neighbouring relation the sensitivity is derived for.
        answer: the exact answer on a list of texts.
        sensitivity: the largest change of ``answer`` between neighbours, given the size of D.
        neighbour: a neighbour D' of D that moves the answer as far as this data allows.
    """

    id: str
    summary: str
    neighbours: str
    answer: Callable[[Sequence[str]], float]
    sensitivity: Callable[[int], float]
    neighbour: Callable[[Sequence[str]], list[str]]


def _remove_last(texts: Sequence[str]) -> list[str]:
    return list(texts[:-1])


def _replace_extreme(texts: Sequence[str], clip: int = DEFAULT_CLIP) -> list[str]:
    """Replace the text whose clipped length is furthest from the other bound with one at it:
    the shortest with a ``clip``-word text, or the longest with an empty one."""
    lengths = [min(len(text.split()), clip) for text in texts]
    shortest = min(range(len(texts)), key=lengths.__getitem__)
    longest = max(range(len(texts)), key=lengths.__getitem__)
    neighbour = list(texts)
    if clip - lengths[shortest] >= lengths[longest]:
        neighbour[shortest] = " ".join(["word"] * clip)
    else:
        neighbour[longest] = ""
    return neighbour


QUERIES: dict[str, Query] = {
    "count": Query(
        id="count",
        summary="number of texts",
        neighbours="add/remove one text",
        answer=count,
        sensitivity=lambda n: 1.0,
        neighbour=_remove_last,
    ),
    "mean-length": Query(
        id="mean-length",
        summary=f"mean word count, each text clipped to {DEFAULT_CLIP} words",
        neighbours="replace one text",
        answer=mean_length,
        sensitivity=lambda n: DEFAULT_CLIP / n,
        neighbour=_replace_extreme,
    ),
}
"""The queries by id, each with its sensitivity as a function of the number of texts n."""


def get_query(name: str) -> Query:
    """The query called ``name``; a :class:`ConfigError` naming the valid ones otherwise."""
    if name not in QUERIES:
        raise ConfigError(f"unknown query '{name}'{_did_you_mean(name, list(QUERIES))}")
    return QUERIES[name]


# -- mechanisms --------------------------------------------------------------------------------


def check_parameters(mechanism: str, epsilon: float, delta: float | None) -> float:
    """Validate a mechanism's name and budget; return the delta it will use.

    ``delta=None`` means 0 for ``laplace`` and :data:`GAUSSIAN_DELTA` for ``gaussian``.

    Raises:
        ConfigError: an unknown mechanism, epsilon not a finite number > 0, delta outside
            [0, 1), a Laplace mechanism given a delta, or a Gaussian one given delta = 0.
    """
    if mechanism not in MECHANISMS:
        hint = _did_you_mean(mechanism, list(MECHANISMS))
        raise ConfigError(f"unknown mechanism '{mechanism}'{hint}")
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be > 0, got {epsilon}; try --epsilon 1")
    if math.isinf(epsilon):
        raise ConfigError("epsilon must be finite (infinity means no noise); try --epsilon 1")
    if delta is None:
        return GAUSSIAN_DELTA if mechanism == "gaussian" else 0.0
    if not 0 <= delta < 1:
        raise ConfigError(f"delta must be in [0, 1), got {delta}; try --delta 1e-5")
    if mechanism == "gaussian" and delta == 0:
        raise ConfigError("the Gaussian mechanism needs delta in (0, 1), e.g. --delta 1e-5")
    if mechanism == "laplace" and delta != 0:
        # diffprivlib would quietly shrink the scale for a delta; say what Laplace is for instead.
        raise ConfigError(
            f"the Laplace mechanism is pure epsilon-DP (delta = 0), got delta {delta}; "
            "drop --delta, or use --mechanism gaussian"
        )
    return float(delta)


def make_mechanism(
    mechanism: str,
    *,
    epsilon: float,
    sensitivity: float,
    delta: float | None = None,
    seed: int | np.random.RandomState | None = None,
) -> Any:
    """The diffprivlib mechanism (``Laplace`` or ``GaussianAnalytic``) for these parameters.

    Args:
        mechanism: ``laplace`` or ``gaussian``.
        epsilon, delta: the privacy budget (see :func:`check_parameters` for the defaults).
        sensitivity: how far one neighbour can move the query's answer.
        seed: an int or a numpy ``RandomState`` for repeatable noise; ``None`` draws from the
            operating system's secure generator, which is what a real release should use.
    """
    delta = check_parameters(mechanism, epsilon, delta)
    if not sensitivity >= 0 or math.isinf(sensitivity):
        raise ConfigError(f"sensitivity must be a finite number >= 0, got {sensitivity}")
    mechanisms = _diffprivlib_mechanisms()
    if mechanism == "laplace":
        return mechanisms.Laplace(epsilon=epsilon, sensitivity=sensitivity, random_state=seed)
    return mechanisms.GaussianAnalytic(
        epsilon=epsilon, delta=delta, sensitivity=sensitivity, random_state=seed
    )


def noise_scale(mechanism: Any) -> float:
    """The noise scale a diffprivlib mechanism uses, from the variance it reports.

    Laplace: its scale b (= sensitivity / epsilon; the standard deviation is b * sqrt(2)).
    Gaussian: its standard deviation sigma.
    """
    variance = float(mechanism.variance(0.0))
    if isinstance(mechanism, _diffprivlib_mechanisms().Laplace):
        return math.sqrt(variance / 2)
    return math.sqrt(variance)


def release(
    value: float,
    mechanism: str,
    *,
    epsilon: float,
    sensitivity: float,
    delta: float | None = None,
    seed: int | np.random.RandomState | None = None,
) -> float:
    """``value`` plus noise calibrated by diffprivlib to (epsilon, delta) and the sensitivity.

    This is the one number a data holder would publish. Arguments as in :func:`make_mechanism`.
    """
    noisy = make_mechanism(
        mechanism, epsilon=epsilon, sensitivity=sensitivity, delta=delta, seed=seed
    ).randomise(float(value))
    return float(noisy)


def sample_mechanism(
    value: float,
    mechanism: str,
    *,
    epsilon: float,
    sensitivity: float,
    delta: float | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """``samples`` independent releases of ``value``, as a float array (about 0.1 s per 20,000).

    Arguments as in :func:`make_mechanism`.
    """
    import numpy as np

    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}")
    noise = make_mechanism(
        mechanism, epsilon=epsilon, sensitivity=sensitivity, delta=delta, seed=seed
    )
    # diffprivlib's randomise takes one value at a time; one mechanism keeps one random stream.
    return np.fromiter((noise.randomise(float(value)) for _ in range(samples)), float, samples)


# -- measuring the privacy loss ----------------------------------------------------------------


@dataclass(frozen=True)
class PrivacyLossEstimate:
    """What two samples of mechanism outputs say about the privacy loss between D and D'.

    Both sides are measured in both directions (D against D' and D' against D), since
    differential privacy bounds both.

    Attributes:
        max_log_ratio: the largest ``|ln(P[M(D) in bin] / P[M(D') in bin])|`` over the bins that
            hold at least :data:`MIN_BIN_COUNT` samples of each; at most epsilon for pure
            epsilon-DP, and unbounded in the tails for Gaussian noise (delta pays for those).
        log_ratio_slack: the sampling error allowed on that bin's log ratio: z times its Poisson
            standard error ``sqrt(1/count_D + 1/count_D')``.
        excess_mass: ``sum over bins of max(0, P_D(bin) - e^epsilon * P_D'(bin))``, the smallest
            delta the histograms are consistent with at this epsilon (for the direction that
            comes closest to breaking the bound).
        excess_mass_slack: the sampling error allowed on it: z times the sum of the Poisson
            standard errors of the bins that contribute.
        bins_compared: how many bins the log ratio was measured on.
        bins: how many bins the histograms have.
        bound_holds: with delta = 0, ``max_log_ratio <= epsilon + log_ratio_slack``; with
            delta > 0, ``excess_mass <= delta + excess_mass_slack``. True means no violation was
            found on these bins and samples, not that the mechanism is DP.
    """

    max_log_ratio: float
    log_ratio_slack: float
    excess_mass: float
    excess_mass_slack: float
    bins_compared: int
    bins: int
    bound_holds: bool


def measure_privacy_loss(
    samples_d: np.ndarray,
    samples_dprime: np.ndarray,
    *,
    epsilon: float,
    delta: float = 0.0,
    bin_width: float | None = None,
) -> PrivacyLossEstimate:
    """Compare histograms of M(D) and M(D') against the (epsilon, delta) promise.

    Binning is post-processing, so a mechanism that keeps its promise keeps it on any bins; only
    sampling noise can make it look broken, and the slacks allow for that with a false-alarm
    rate of at most :data:`FALSE_ALARM_RATE` (normal approximation, Bonferroni over bins).

    Args:
        samples_d, samples_dprime: outputs of the mechanism on D and on a neighbour D'.
        epsilon, delta: the promise to check; delta = 0 checks the log ratio, delta > 0 the
            excess mass.
        bin_width: the histogram's bin width; by default half the pooled standard deviation.
    """
    import numpy as np

    d = np.asarray(samples_d, dtype=float)
    dprime = np.asarray(samples_dprime, dtype=float)
    edges = bin_edges(d, dprime, bin_width)
    counts_d = np.histogram(d, edges)[0].astype(float)
    counts_dprime = np.histogram(dprime, edges)[0].astype(float)

    enough = (counts_d >= MIN_BIN_COUNT) & (counts_dprime >= MIN_BIN_COUNT)
    if not enough.any():
        # The larger epsilon, the further apart M(D) and M(D') and the less they overlap.
        raise ConfigError(
            f"no histogram bin holds {MIN_BIN_COUNT} samples from both D and D' ({d.size:,} "
            f"samples each, epsilon {epsilon:g}); draw more --samples, or check a smaller --epsilon"
        )
    c_d, c_dprime = counts_d[enough], counts_dprime[enough]
    log_ratio = np.abs(np.log((c_d / d.size) / (c_dprime / dprime.size)))
    # Both directions of every compared bin are tested, hence 2 * bins in the Bonferroni split.
    z_ratio = _z(2 * int(enough.sum()))
    worst_bin = int(np.argmax(log_ratio))
    max_log_ratio = float(log_ratio[worst_bin])
    ratio_slack = z_ratio * math.sqrt(1 / c_d[worst_bin] + 1 / c_dprime[worst_bin])

    z_mass = _z(2 * int(((counts_d > 0) | (counts_dprime > 0)).sum()))
    scale = math.exp(epsilon)
    margins = []
    for (c_a, n_a), (c_b, n_b) in (
        ((counts_d, d.size), (counts_dprime, dprime.size)),
        ((counts_dprime, dprime.size), (counts_d, d.size)),
    ):
        excess = c_a / n_a - scale * c_b / n_b
        over = excess > 0
        mass = float(excess[over].sum())
        # Poisson error of each bin's estimate of P_a - e^eps P_b, summed over the bins that count.
        slack = z_mass * float(np.sqrt(c_a[over] / n_a**2 + scale**2 * c_b[over] / n_b**2).sum())
        margins.append((mass - slack, mass, slack))
    _, excess_mass, mass_slack = max(margins)

    if delta == 0:
        holds = max_log_ratio <= epsilon + ratio_slack
    else:
        holds = excess_mass <= delta + mass_slack
    return PrivacyLossEstimate(
        max_log_ratio=max_log_ratio,
        log_ratio_slack=ratio_slack,
        excess_mass=excess_mass,
        excess_mass_slack=mass_slack,
        bins_compared=int(enough.sum()),
        bins=len(edges) - 1,
        bound_holds=bool(holds),
    )


def bin_edges(
    samples_d: np.ndarray, samples_dprime: np.ndarray, bin_width: float | None = None
) -> np.ndarray:
    """Common histogram bin edges covering both samples, ``bin_width`` apart (by default half
    the pooled standard deviation)."""
    import numpy as np

    pooled = np.concatenate([np.asarray(samples_d, float), np.asarray(samples_dprime, float)])
    if bin_width is None:
        bin_width = float(pooled.std()) / 2
    if not bin_width > 0:
        raise ConfigError(f"bin width must be > 0, got {bin_width}: are the samples all equal?")
    low, high = float(pooled.min()), float(pooled.max())
    bins = max(1, math.ceil((high - low) / bin_width))
    # numpy's last bin is closed on the right, so the largest sample is counted too.
    return low + bin_width * np.arange(bins + 1)


# -- the check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MechanismCheck:
    """One empirical check of a mechanism on a dataset D and a neighbour D'.

    Attributes:
        query, mechanism: what was released, and with which noise.
        epsilon, delta: the promise checked.
        sensitivity: the query's sensitivity on D, which the noise was calibrated to.
        scale: the noise scale diffprivlib used (Laplace: b; Gaussian: sigma).
        neighbours: the neighbouring relation D' was built with.
        true_d, true_d_prime: the exact answers on D and D'.
        max_log_ratio, log_ratio_slack, excess_mass, excess_mass_slack, bins_compared:
            as in :class:`PrivacyLossEstimate`.
        bound_holds: Laplace: ``max_log_ratio <= epsilon + log_ratio_slack``; Gaussian:
            ``excess_mass <= delta + excess_mass_slack``. False is evidence of a violation (wrong
            at most :data:`FALSE_ALARM_RATE` of the time); True only says none was found.
        samples: how many releases were drawn on each of D and D'.
        seed: the seed they were drawn with.
        bin_width: the histogram bin width (half the noise scale).
        samples_d, samples_dprime: the releases themselves (for :func:`plot_check`; not in
            :meth:`to_dict`).
    """

    query: str
    mechanism: str
    epsilon: float
    delta: float
    sensitivity: float
    scale: float
    neighbours: str
    true_d: float
    true_d_prime: float
    max_log_ratio: float
    log_ratio_slack: float
    excess_mass: float
    excess_mass_slack: float
    bins_compared: int
    bound_holds: bool
    samples: int
    seed: int | None
    bin_width: float
    samples_d: np.ndarray = field(repr=False, compare=False)
    samples_dprime: np.ndarray = field(repr=False, compare=False)

    @property
    def bound(self) -> str:
        """The inequality ``bound_holds`` reports on, in words a JSON reader can follow."""
        if self.mechanism == "laplace":
            return "max_log_ratio <= epsilon + log_ratio_slack"
        return "excess_mass <= delta + excess_mass_slack"

    def to_dict(self) -> dict[str, Any]:
        """Every field but the samples, plus ``bound``, ready for ``json.dumps``."""
        data = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("samples_d", "samples_dprime")
        }
        return {**data, "bound": self.bound}


def empirical_check(
    texts: Sequence[str],
    query: str = "count",
    mechanism: str = "laplace",
    epsilon: float = 1.0,
    delta: float | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int | None = 0,
) -> MechanismCheck:
    """Run the mechanism ``samples`` times on D = ``texts`` and on a neighbour D', and look for a
    violation of the (epsilon, delta) promise.

    The check can find a violation but never certify DP (see the module docstring): it tests
    one neighbour, on histogram bins, with finite samples. D' removes the last text (``count``)
    or replaces the text whose length is most extreme (``mean-length``). The noise is calibrated
    to the query's sensitivity on D; the histograms of the two output samples are compared by
    :func:`measure_privacy_loss` with bins half the noise scale wide. ``delta=None`` means 0 for
    Laplace and 1e-5 for Gaussian.

    Raises:
        ConfigError: an unknown query or mechanism, a bad epsilon or delta (see
            :func:`check_parameters`), no texts, samples outside [:data:`MIN_SAMPLES`,
            :data:`MAX_SAMPLES`], a seed numpy cannot take, or an epsilon whose noise floating
            point cannot hold (:data:`MAX_NOISE_SCALE`, :data:`NOISE_RESOLUTION`).
    """
    import numpy as np

    spec = get_query(query)
    delta = check_parameters(mechanism, epsilon, delta)
    if not texts:
        raise ConfigError("the data has no texts; the check needs at least one (see --data)")
    if samples < MIN_SAMPLES:
        raise ConfigError(f"samples must be at least {MIN_SAMPLES:,} for the check, got {samples}; "
                          f"try --samples {DEFAULT_SAMPLES}")
    if samples > MAX_SAMPLES:
        raise ConfigError(f"samples must be at most {MAX_SAMPLES:,} for the check, got {samples:,}; "
                          f"try --samples {DEFAULT_SAMPLES}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must lie in 0..{MAX_SEED}, got {seed}; try --seed 0")
    texts = list(texts)
    neighbour = spec.neighbour(texts)
    true_d, true_d_prime = spec.answer(texts), spec.answer(neighbour)
    sensitivity = spec.sensitivity(len(texts))
    with np.errstate(all="ignore"):  # an overflowing variance is refused just below
        scale = noise_scale(make_mechanism(mechanism, epsilon=epsilon, delta=delta, sensitivity=sensitivity))
    lost = scale <= NOISE_RESOLUTION * max(1.0, abs(true_d), abs(true_d_prime))
    # diffprivlib's analytic Gaussian returns sigma 0 below epsilon ~1e-100: a failure, not tiny noise.
    if not (math.isfinite(scale) and scale <= MAX_NOISE_SCALE) or (lost and epsilon < 1):
        raise ConfigError(f"epsilon {epsilon:g} is too small for its noise (scale {scale:.3g}) to be "
                          "calibrated, sampled and binned in floating point; check a larger --epsilon "
                          "(0.1 to 10 are usual)")
    if lost:
        raise ConfigError(f"epsilon {epsilon:g} calls for noise of scale {scale:.3g}, lost in the rounding "
                          f"of the answer {true_d:g}; check a smaller --epsilon (0.1 to 10 are usual)")

    # One random stream for both samples keeps them independent and the whole check repeatable.
    rng = np.random.RandomState(seed)
    options = dict(epsilon=epsilon, delta=delta, sensitivity=sensitivity, samples=samples, seed=rng)
    samples_d = sample_mechanism(true_d, mechanism, **options)
    samples_dprime = sample_mechanism(true_d_prime, mechanism, **options)
    bin_width = scale / 2
    loss = measure_privacy_loss(
        samples_d, samples_dprime, epsilon=epsilon, delta=delta, bin_width=bin_width
    )
    return MechanismCheck(
        query=query,
        mechanism=mechanism,
        epsilon=float(epsilon),
        delta=delta,
        sensitivity=float(sensitivity),
        scale=scale,
        neighbours=spec.neighbours,
        true_d=float(true_d),
        true_d_prime=float(true_d_prime),
        max_log_ratio=loss.max_log_ratio,
        log_ratio_slack=loss.log_ratio_slack,
        excess_mass=loss.excess_mass,
        excess_mass_slack=loss.excess_mass_slack,
        bins_compared=loss.bins_compared,
        bound_holds=loss.bound_holds,
        samples=samples,
        seed=seed,
        bin_width=bin_width,
        samples_d=samples_d,
        samples_dprime=samples_dprime,
    )


def plot_check(check: MechanismCheck, path: str | Path) -> Path:
    """Save a PNG of the check: both output densities, the true answers, and the e^epsilon bound.

    The dashed line is e^epsilon times the density of M(D'); pure epsilon-DP keeps the density of
    M(D) under it everywhere. Parent folders are created; an existing file is replaced (the
    command line refuses to, unless told).
    """
    import numpy as np
    from matplotlib.figure import Figure  # a bare Figure renders with Agg and leaves pyplot alone

    path = Path(path)
    edges = bin_edges(check.samples_d, check.samples_dprime, check.bin_width)
    density_d = np.histogram(check.samples_d, edges, density=True)[0]
    density_dprime = np.histogram(check.samples_dprime, edges, density=True)[0]
    pooled = np.concatenate([check.samples_d, check.samples_dprime])
    # The Laplace tails reach far; show the middle 99.8% so the shapes stay readable.
    low, high = np.quantile(pooled, [0.001, 0.999])

    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.stairs(density_d, edges, fill=True, alpha=0.45, color="tab:blue", label="M(D)")
    axes.stairs(density_dprime, edges, fill=True, alpha=0.45, color="tab:orange", label="M(D')")
    axes.stairs(
        math.exp(check.epsilon) * density_dprime,
        edges,
        color="black",
        linestyle="--",
        label=r"$e^{\varepsilon}$ × density of M(D')  (the bound)",
    )
    axes.axvline(
        check.true_d, color="tab:blue", linewidth=1.5, label=f"true answer on D = {check.true_d:g}"
    )
    axes.axvline(
        check.true_d_prime,
        color="tab:orange",
        linewidth=1.5,
        linestyle=":",
        label=f"true answer on D' = {check.true_d_prime:g}",
    )
    answers = (check.true_d, check.true_d_prime)
    axes.set_xlim(min(low, *answers), max(high, *answers))
    axes.set_xlabel(f"released {check.query}")
    axes.set_ylabel("density")
    verdict = "no violation found" if check.bound_holds else "VIOLATION found"
    axes.set_title(
        f"{check.mechanism.capitalize()} mechanism on {check.query}: ε = {check.epsilon:g}, "
        f"δ = {check.delta:g} ({verdict})"
    )
    axes.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


# -- helpers -----------------------------------------------------------------------------------


def _z(tests: int) -> float:
    """The one-sided normal quantile that splits FALSE_ALARM_RATE over ``tests`` tests."""
    return NormalDist().inv_cdf(1 - FALSE_ALARM_RATE / max(tests, 1))


def _did_you_mean(name: str, valid: list[str]) -> str:
    hint = closest(name, valid, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return f"{suggestion}; choose one of: {', '.join(valid)}"


def _diffprivlib_mechanisms() -> Any:
    try:
        import diffprivlib.mechanisms as mechanisms
    except ImportError as error:
        # diffprivlib 0.6.6 imports private scikit-learn names that scikit-learn 1.9 removed.
        raise PtmError(
            f"diffprivlib could not be imported ({error}); the privacy mechanisms need "
            "diffprivlib 0.6.6 with scikit-learn < 1.9: "
            "pip install 'diffprivlib==0.6.6' 'scikit-learn<1.9'"
        ) from error
    return mechanisms
