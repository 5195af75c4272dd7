"""Built-in plugin: differential privacy (DP-SGD through Opacus)."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import PrivacySpec


@hookimpl
def ptm_register_privacy(register):
    register(
        PrivacySpec(
            id="dp-sgd",
            summary="DP-SGD: per-example clipping and Gaussian noise, calibrated to a target epsilon",
            factory="ptm_dp.dpsgd:make_private",
            guarantee="(epsilon, delta)-DP for every training example (Abadi et al., 2016)",
        )
    )
