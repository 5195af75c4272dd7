"""DP-SGD with Opacus: wrap a model, optimizer and data loader to meet a target (epsilon, delta)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConfigError


@dataclass
class PrivateTraining:
    """The private versions of the training objects, and the accountant that tracks them."""

    engine: Any
    model: Any
    optimizer: Any
    data_loader: Any
    delta: float

    @property
    def noise_multiplier(self) -> float:
        return float(self.optimizer.noise_multiplier)

    def epsilon(self) -> float:
        """The epsilon spent so far at this run's delta, from Opacus' accountant."""
        return float(self.engine.get_epsilon(self.delta))


def make_private(
    model: Any,
    optimizer: Any,
    data_loader: Any,
    *,
    epsilon: float,
    delta: float,
    epochs: int,
    max_grad_norm: float = 1.0,
    accountant: str = "rdp",
) -> PrivateTraining:
    """Calibrate the noise so that ``epochs`` of training spend at most ``epsilon``.

    Uses Poisson sampling and Opacus' accountant (``rdp``, ``prv`` or ``gdp``).
    """
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be > 0, got {epsilon}; try --epsilon 8")
    if not 0 < delta < 1:
        raise ConfigError(f"delta must lie in (0, 1), got {delta}; try 1/N for N examples")
    from opacus import PrivacyEngine

    engine = PrivacyEngine(accountant=accountant)
    model, optimizer, data_loader = engine.make_private_with_epsilon(
        module=model,
        optimizer=optimizer,
        data_loader=data_loader,
        target_epsilon=epsilon,
        target_delta=delta,
        epochs=epochs,
        max_grad_norm=max_grad_norm,
        poisson_sampling=True,
    )
    return PrivateTraining(engine, model, optimizer, data_loader, delta)
