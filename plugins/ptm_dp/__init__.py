"""Built-in plugin: differential privacy.

- ``dp-sgd``: DP-SGD through Opacus (``ptm train --privacy dp-sgd --epsilon 8``);
- ``ptm privacy mechanism``: the Laplace and Gaussian mechanisms on a query, checked empirically;
- ``ptm privacy sweep``: accuracy against epsilon;
- ``ptm privacy audit``: a membership-inference attack on a trained run.

Opacus, diffprivlib and matplotlib are imported only when a command or a run needs them.
"""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import PrivacySpec


@hookimpl
def ptm_register_privacy(register):
    from ptm_dp.defaults import DP_DEFAULTS
    from ptm_dp.options import DP_SGD_OPTIONS

    register(
        PrivacySpec(
            id="dp-sgd",
            summary="DP-SGD: per-example clipping and Gaussian noise, calibrated to a target epsilon",
            factory="ptm_dp.dpsgd:make_dp_sgd",
            guarantee="(epsilon, delta)-DP for every training example (Abadi et al., 2016)",
            defaults=DP_DEFAULTS,
            options=DP_SGD_OPTIONS,
        )
    )


@hookimpl
def ptm_register_commands(cli):
    from ptm_dp.commands import privacy_group

    cli.add_command(privacy_group)
