"""DP-SGD with Opacus: train so that the finished model is (epsilon, delta)-differentially private.

Each step clips every example's gradient to norm ``max_grad_norm`` and adds Gaussian noise of
standard deviation ``noise_multiplier * max_grad_norm`` to their sum (Abadi et al. 2016).
Batches are drawn by Poisson sampling (each example joins a step with probability
``sample_rate``), which is what the accountants assume. The noise multiplier is calibrated up
front so that the planned number of steps spends the target epsilon, and the accountant then
reports the epsilon actually spent after every epoch.

The trainer knows nothing of this module: it calls :meth:`DPSGD.wrap`, ``epsilon()``,
``report()`` and ``close()`` (the privacy contract in :class:`toolkit.registry.PrivacySpec`).
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from ptm_dp.defaults import DELTA_FRACTION
from toolkit.errors import ConfigError, PtmWarning


# Opacus' accountants, each with what its epsilon means.
ACCOUNTANTS = {
    "rdp": "Renyi DP: an upper bound",
    "prv": "privacy random variables: tighter, numerical",
    "gdp": "Gaussian DP: a CLT approximation, can underestimate",
}
# Opacus' per-sample gradient engines. benchmarks/privacy.py, MiniLM, batch 32, time per step
# against the plain step: training everything, hooks 9.9x, functorch 9.3x, ghost clipping 2.2x;
# training LoRA adapters, hooks 1.07x, functorch 1.5x, ghost 1.7x; tiny-bert trained whole (its
# embedding table is most of it), ghost 1.7x faster than hooks. So ``auto`` takes ghost clipping
# when many parameters or an embedding table train (no per-example gradient is ever stored) and
# hooks otherwise.
GRAD_SAMPLE_MODES = ("auto", "hooks", "functorch", "ghost")
DEFAULT_GRAD_SAMPLE_MODE = "auto"
GHOST_ABOVE_PARAMETERS = 5_000_000


def auto_grad_sample_mode(model: Any) -> str:
    """What ``auto`` picks: ghost clipping when many parameters train or when an embedding table
    trains (hooks would store each example's gradient of the whole table, ``batch x vocabulary x
    hidden`` numbers, for a few rows each example touches), hooks otherwise."""
    import torch

    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    embedding = any(p.requires_grad for m in model.modules() if isinstance(m, torch.nn.Embedding)
                    for p in m.parameters(recurse=False))
    return "ghost" if trained > GHOST_ABOVE_PARAMETERS or embedding else "hooks"


# Noise multipliers above this drown any gradient signal; a budget that needs more is refused.
MAX_NOISE = 100.0
# Above this, the guarantee bounds an attacker's odds by a factor e^epsilon > 10^43: no promise
# at all, and Opacus' search for so little noise takes minutes, or never ends (epsilon 1e300).
MAX_EPSILON = 100.0
# Opacus' noise search stops once the run's epsilon lies within this of the target (below it).
# A smaller target cannot be calibrated: the search keeps the first noise whose epsilon falls
# under it, up to EPSILON_TOLERANCE lower, where the conversion to (epsilon, delta) can even go
# negative. So targets below it are refused, and they are no budget anyone trains with.
EPSILON_TOLERANCE = 0.01
# Across processes each one Poisson-samples its own share; with fewer expected examples than this
# an empty draw (probability ~e^-16 per step) becomes likely enough to matter.
MIN_BATCH_PER_PROCESS = 16


@dataclass
class DPSGD:
    """A DP-SGD mechanism: plan the noise, wrap the training objects, account for the budget.

    Args:
        epsilon: the target epsilon for the whole run (``math.inf`` trains without noise or
            clipping, the non-private reference of a sweep).
        delta: the target delta; ``None`` means 1/(10 N) for N training examples, well below
            the 1/N at which a mechanism may publish one whole record (see
            :data:`ptm_dp.defaults.DELTA_FRACTION`).
        max_grad_norm: the per-example clipping norm C.
        accountant: ``rdp`` (Mironov 2017), ``prv`` (Gopi et al. 2021) or ``gdp`` (Dong et al. 2019).
        grad_sample_mode: Opacus' per-sample gradient engine (``hooks``, ``functorch``, ``ghost``).
    """

    epsilon_target: float
    delta: float | None = None
    max_grad_norm: float = 1.0
    accountant: str = "rdp"
    grad_sample_mode: str = DEFAULT_GRAD_SAMPLE_MODE
    noise_multiplier: float | None = field(default=None, init=False)
    sample_rate: float | None = field(default=None, init=False)
    examples: int | None = field(default=None, init=False)
    _engine: Any = field(default=None, init=False, repr=False)
    _model: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.epsilon_target > 0:
            raise ConfigError(f"epsilon must be > 0, got {self.epsilon_target}; try --epsilon 8")
        if self.private and self.epsilon_target > MAX_EPSILON:
            raise ConfigError(
                f"epsilon {self.epsilon_target:g} is above {MAX_EPSILON:g}, where the guarantee "
                f"(odds bounded by e^epsilon) promises nothing; use --epsilon {MAX_EPSILON:g} or "
                "less, or train without --privacy (inf in a sweep)"
            )
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"delta must lie in (0, 1), got {self.delta}; leave it out for 1/(10 N)")
        if not self.max_grad_norm > 0:
            raise ConfigError(f"--max-grad-norm must be > 0, got {self.max_grad_norm}; try 1.0")
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(f"unknown accountant '{self.accountant}'; use {', '.join(ACCOUNTANTS)}")
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise ConfigError(
                f"unknown grad sample mode '{self.grad_sample_mode}'; use {', '.join(GRAD_SAMPLE_MODES)}"
            )

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon_target)

    def plan(self, examples: int, batch_size: int, epochs: int) -> None:
        """Resolve delta and calibrate the noise for ``epochs`` over ``examples``; no training.

        Called before anything is written, so an unreachable budget is a one-line error.
        """
        if examples < 2:
            raise ConfigError("DP-SGD needs at least two training examples")
        from toolkit import distributed

        world = distributed.world_size()
        if world > 1 and batch_size / world < MIN_BATCH_PER_PROCESS:
            raise ConfigError(
                f"DP-SGD on {world} processes needs --batch-size {MIN_BATCH_PER_PROCESS * world} or more "
                f"({MIN_BATCH_PER_PROCESS} per process): an empty Poisson draw on one process would "
                "stall the others"
            )
        self.examples = examples
        if self.delta is None:
            self.delta = DELTA_FRACTION / examples
        elif self.delta >= 1.0 / examples:
            warnings.warn(
                f"delta {self.delta:g} is at least 1/N = {1 / examples:g} for N = {examples} "
                "examples: a mechanism could then publish one example outright; "
                "choose a delta well below 1/N",
                PtmWarning,
                stacklevel=2,
            )
        # As Opacus' Poisson loader does: one step per batch of the plain loader, each
        # example joining a step with probability 1 / steps-per-epoch.
        steps_per_epoch = math.ceil(examples / batch_size)
        self.sample_rate = 1.0 / steps_per_epoch
        if not self.private:
            self.noise_multiplier = 0.0
            return
        from opacus.accountants import create_accountant

        # One accountant call at the largest noise worth training with: when even that misses
        # the target, say so now (Opacus' own search would double the noise up to 1e6, tens of
        # seconds, before giving up).
        ceiling = create_accountant(self.accountant)
        ceiling.history = [(MAX_NOISE, self.sample_rate, epochs * steps_per_epoch)]
        try:
            reachable = spent_epsilon(ceiling, self.delta) <= self.epsilon_target
        except (ValueError, ArithmeticError):
            reachable = False
        if not reachable:
            raise ConfigError(
                f"epsilon {self.epsilon_target:g} cannot be reached with {examples} examples, "
                f"batch size {batch_size} and {epochs} epochs (delta {self.delta:g}) at a noise "
                f"multiplier up to {MAX_NOISE:g}; raise --epsilon, or lower --epochs or --batch-size"
            )
        if self.epsilon_target < EPSILON_TOLERANCE:
            raise ConfigError(
                f"epsilon {self.epsilon_target:g} is below {EPSILON_TOLERANCE:g}, the precision to "
                f"which Opacus calibrates the noise; use --epsilon {EPSILON_TOLERANCE:g} or more "
                "(budgets of 1 to 10 are usual)"
            )
        try:
            self.noise_multiplier = _calibrated_noise(self.epsilon_target, self.delta, self.sample_rate, epochs,
                                                      self.accountant)
        except (ValueError, ArithmeticError) as error:
            raise ConfigError(
                f"the {self.accountant} accountant could not calibrate the noise for epsilon "
                f"{self.epsilon_target:g} at delta {self.delta:g} ({error}); try --accountant rdp, "
                "or a smaller --delta"
            ) from None

    def distributed(self, model: Any) -> Any:
        """The model for training across processes (torchrun): Opacus' own data parallelism,
        where each process Poisson-samples its shard at the global rate, rank 0 adds the noise
        and the gradients are summed, so the guarantee is the one-process run's."""
        from opacus.distributed import DifferentiallyPrivateDistributedDataParallel

        return DifferentiallyPrivateDistributedDataParallel(model)

    def wrap(self, model: Any, optimizer: Any, criterion: Any, loader: Any, *, epochs: int) -> tuple:
        """Make the model, optimizer, loss and loader private (Poisson batches, clipping, noise)."""
        from opacus import PrivacyEngine

        # Known, harmless notices that would bury the run's output: Opacus' reminder that its
        # noise comes from torch's fast PRNG (recorded as "secure_rng": false in the report),
        # and torch's note on backward hooks of frozen layers.
        for notice in ("Secure RNG turned off", "Full backward hook is firing", "In CPU autocast"):
            warnings.filterwarnings("ignore", message=notice, category=UserWarning)
        if self.noise_multiplier is None:
            self.plan(len(loader.dataset), loader.batch_size, epochs)
        if self.grad_sample_mode == "auto":
            self.grad_sample_mode = auto_grad_sample_mode(model)
        self._engine = PrivacyEngine(accountant=self.accountant)
        options: dict[str, Any] = {}
        if self.grad_sample_mode == "ghost":
            options["criterion"] = criterion
        wrapped = self._engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=self.noise_multiplier,
            # With epsilon = inf: no noise, and a clipping norm no gradient reaches.
            max_grad_norm=self.max_grad_norm if self.private else 1e9,
            poisson_sampling=True,
            grad_sample_mode=self.grad_sample_mode,
            **options,
        )
        if self.grad_sample_mode == "ghost":
            model, optimizer, criterion, loader = wrapped
        else:
            model, optimizer, loader = wrapped
        self._model = model
        return model, optimizer, criterion, loader

    def accumulate(self, optimizer: Any) -> None:
        """Clip and keep this part's per-example gradients; the noisy step comes later.

        The trainer calls it between the parts of one Poisson batch (see
        ``FineTuner.micro_batches``): the batch is still one step of the mechanism.
        """
        optimizer.signal_skip_step(do_skip=True)
        optimizer.step()
        optimizer.zero_grad()

    def steps(self) -> int:
        """Optimizer steps the accountant has seen."""
        if self._engine is None:
            return 0
        return sum(n for _, _, n in self._engine.accountant.history)

    def epsilon(self) -> float:
        """The epsilon spent so far at this run's delta, from Opacus' accountant."""
        if not self.private:
            return math.inf
        if self._engine is None or not self._engine.accountant.history:
            return 0.0
        return spent_epsilon(self._engine.accountant, self.delta)

    def report(self) -> dict[str, Any]:
        """What metrics.json records: the guarantee and how it was reached."""
        return {
            "mechanism": "dp-sgd",
            "epsilon": self.epsilon(),
            "delta": self.delta,
            "target_epsilon": self.epsilon_target,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": self.steps(),
            "max_grad_norm": self.max_grad_norm if self.private else None,
            "accountant": self.accountant,
            "grad_sample_mode": self.grad_sample_mode,
            "examples": self.examples,
            "secure_rng": False,
        }

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the mechanism: the accountant's history of steps."""
        history = self._engine.accountant.history if self._engine is not None else []
        return {"history": [list(entry) for entry in history]}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue the accounting of a resumed run (after ``wrap``)."""
        self._engine.accountant.history = [tuple(entry) for entry in state["history"]]

    def close(self) -> None:
        """Remove Opacus' hooks from the trained model (it is saved and used as a plain model)."""
        if self._model is not None and hasattr(self._model, "_close"):
            self._model._close()


@functools.lru_cache(maxsize=64)
def _calibrated_noise(epsilon: float, delta: float, sample_rate: float, epochs: int, accountant: str) -> float:
    """Opacus' noise multiplier for a budget: a deterministic search (several seconds at large
    sample rates), so a process that plans the same run again (a lesson's seeds, a sweep) asks once."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        # Opacus' note that a larger RDP order might help: not the user's concern.
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                          epochs=epochs, accountant=accountant,
                                          epsilon_tolerance=EPSILON_TOLERANCE))


def make_dp_sgd(
    *,
    epsilon: float,
    delta: float | None = None,
    max_grad_norm: float | None = None,
    accountant: str | None = None,
    grad_sample_mode: str | None = None,
) -> DPSGD:
    """The ``dp-sgd`` factory: ``ptm train --privacy dp-sgd --epsilon 8 [--delta ...]``."""
    return DPSGD(
        epsilon_target=float(epsilon),
        delta=delta,
        max_grad_norm=1.0 if max_grad_norm is None else max_grad_norm,
        accountant=accountant or "rdp",
        grad_sample_mode=grad_sample_mode or DEFAULT_GRAD_SAMPLE_MODE,
    )


def spent_epsilon(accountant: Any, delta: float) -> float:
    """An Opacus accountant's epsilon at ``delta``, never below 0.

    The accountants convert their bound to (epsilon, delta) with formulas that go below 0 when
    the noise is large for this delta; a guarantee at epsilon 0 then holds (and so at any
    epsilon above), so 0 is what is spent. GDP solves for epsilon in [0, 500] and raises when
    there is no root there: at 0 the bound already holds, or it needs more than 500.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        try:
            epsilon = float(accountant.get_epsilon(delta))
        except ValueError:
            if accountant.mechanism() != "gdp":
                raise
            from opacus.accountants.analysis.gdp import compute_mu_poisson, delta_eps_mu

            noise, rate, steps = accountant.history[-1]
            mu = compute_mu_poisson(steps=steps, noise_multiplier=noise, sample_rate=rate)
            return 0.0 if delta_eps_mu(eps=0.0, mu=mu) <= delta else math.inf
    return max(0.0, epsilon)


def epsilon_for(noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                accountant: str = "rdp") -> float:
    """Epsilon of a finished run, straight from a fresh Opacus accountant (for comparisons)."""
    from opacus.accountants import create_accountant

    fresh = create_accountant(accountant)
    fresh.history = [(noise_multiplier, sample_rate, steps)]
    return spent_epsilon(fresh, delta)


def accountant_epsilons(metrics: dict[str, Any]) -> dict[str, float]:
    """One finished dp-sgd run's epsilon under each Opacus accountant (same noise multiplier,
    sample rate, steps and delta: only the analysis differs).

    Raises:
        ConfigError: a run trained without dp-sgd or without noise, or a metrics.json whose
            record of the mechanism is missing or out of range (damaged by hand or by a tool).
    """
    needed = ("noise_multiplier", "sample_rate", "steps", "delta")
    mechanism = metrics.get("mechanism")
    if mechanism is None:
        raise ConfigError("the run was trained without --privacy, so there is no budget to account "
                          "for; train one with --privacy dp-sgd --epsilon 8")
    if mechanism != "dp-sgd":
        raise ConfigError(f"the run was trained with privacy {mechanism!r}, not dp-sgd; the accountants "
                          "replay dp-sgd runs only (--privacy dp-sgd --epsilon 8)")
    missing = [k for k in needed if metrics.get(k) is None]
    if missing:
        raise ConfigError(f"metrics.json lacks {', '.join(missing)} (damaged?); train the run again")
    _check_recorded("noise_multiplier", metrics["noise_multiplier"], "a number >= 0",
                    lambda v: v >= 0)
    if not metrics["noise_multiplier"]:
        raise ConfigError("the run was trained without noise (epsilon inf): every accountant says inf")
    _check_recorded("sample_rate", metrics["sample_rate"], "a number in (0, 1]", lambda v: 0 < v <= 1)
    _check_recorded("steps", metrics["steps"], "a whole number >= 1", lambda v: v >= 1 and v == int(v))
    _check_recorded("delta", metrics["delta"], "a number in (0, 1)", lambda v: 0 < v < 1)
    values = (float(metrics["noise_multiplier"]), float(metrics["sample_rate"]), int(metrics["steps"]),
              float(metrics["delta"]))
    epsilons = {}
    for name in ACCOUNTANTS:
        try:
            with warnings.catch_warnings():
                # Opacus warns that GDP can underestimate (ACCOUNTANTS says so where it is shown),
                # and PRV's grid divides by zero at sample rate 1 on its way to a finite answer.
                warnings.simplefilter("ignore")
                epsilons[name] = epsilon_for(*values, accountant=name)
        except (MemoryError, RuntimeError, ValueError, ArithmeticError) as error:
            # PRV discretises the privacy loss on a grid that values far outside any training
            # run (noise 1e-6, ten million steps) would make petabytes long.
            raise ConfigError(
                f"the {name} accountant cannot compute an epsilon for noise multiplier {values[0]:g}, "
                f"sample rate {values[1]:g}, {values[2]} steps and delta {values[3]:g} "
                f"({type(error).__name__}); check metrics.json, or train the run again"
            ) from None
    return epsilons


def _check_recorded(name: str, value: Any, should_be: str, holds: Any) -> None:
    """A value metrics.json records for the accountants: a finite number that ``holds``."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (number and holds(value)):
        raise ConfigError(f"metrics.json records {name} {json.dumps(value)}, not {should_be} (damaged?); "
                          "train the run again")
