"""ptm-toolkit core: the plugin contract and the machinery that runs it.

Plugins mark their hook implementations with :data:`hookimpl`::

    from toolkit import hookimpl

    @hookimpl
    def ptm_register_models(register):
        register(ModelSpec(id="my-bert", summary="...", factory="my_pkg.models:load"))

The core knows no BERT, Opacus or Captum; heavy libraries are imported inside the
functions that use them so that ``ptm --help`` starts fast.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "ptm"
"""The pluggy project name: the marker namespace and the entry-point group."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorator that marks a function as an implementation of a ``ptm_*`` hook."""

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
