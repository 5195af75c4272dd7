"""A pytest plugin for plugin authors (loaded automatically through the ``pytest11`` entry point).

Fixtures:
    ptm_manager     a fresh plugin manager with the installed plugins, in strict mode.
    ptm_register    ``ptm_register(plugin)`` registers a plugin object on ``ptm_manager``
                    and unregisters it when the test ends.
    ptm_cli         ``ptm_cli("plugins", "list")`` runs the CLI built on ``ptm_manager``
                    with click's CliRunner and returns the result.

Contract checks (plain functions from :mod:`toolkit.contracts`, re-exported here; they raise
``AssertionError`` naming what is wrong):
    check_explainer an explainer gives one well-formed Explanation per text: one score per
                    token, words that sum their pieces, the target and probability the model gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from toolkit.contracts import check_explainer
from toolkit.manager import PtmPluginManager, create_plugin_manager

__all__ = ["check_explainer", "ptm_cli", "ptm_manager", "ptm_register"]


@pytest.fixture
def ptm_manager() -> PtmPluginManager:
    """A fresh plugin manager with every installed plugin, failing loudly on a broken one."""
    return create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})


@pytest.fixture
def ptm_register(ptm_manager: PtmPluginManager) -> Iterator[Callable[..., str | None]]:
    """Register plugin objects on ``ptm_manager`` for one test; unregistered afterwards."""
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> str | None:
        plugin_name = ptm_manager.register(plugin, name)
        registered.append(plugin)
        return plugin_name

    try:
        yield register
    finally:
        for plugin in registered:
            if ptm_manager.is_registered(plugin):
                ptm_manager.unregister(plugin)


@pytest.fixture
def ptm_cli(ptm_manager: PtmPluginManager) -> Callable[..., Any]:
    """Run ``ptm`` in-process on ``ptm_manager``: ``ptm_cli("plugins", "list", "--json")``."""
    from click.testing import CliRunner

    from toolkit.cli import create_cli

    def invoke(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(create_cli(ptm_manager), list(args), input=input)

    return invoke
