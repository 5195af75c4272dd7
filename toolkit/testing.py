"""A pytest plugin for plugin authors (loaded automatically through the ``pytest11`` entry point).

Fixtures:
    ptm_manager     a fresh plugin manager with the installed plugins, in strict mode.
    ptm_register    ``ptm_register(plugin)`` registers a plugin object on ``ptm_manager``
                    and unregisters it when the test ends.
    ptm_cli         ``ptm_cli("plugins", "list")`` runs the CLI built on ``ptm_manager``
                    with click's CliRunner and returns the result.
    ptm_tiny_data   24 short labelled sentences (:func:`toolkit.contracts.tiny_dataset`).
    ptm_tiny_model  a trainer holding ``tiny-bert`` (2 layers, hidden 32, random weights, a
                    real vocabulary) with ``.model`` and ``.tokenizer``: a classifier in a
                    second, for explainer tests. Needs the built-in ``ptm_bert`` plugin.

Contract checks (plain functions from :mod:`toolkit.contracts`, re-exported here; they raise
``AssertionError`` naming what is wrong):
    check_model     a model loads through the registry and the trainer predicts with it.
    check_dataset   a dataset loads, is labelled for a registered task, and yields examples
                    with the declared labels (and a second text exactly for pair tasks).
    check_task      a task has one or two inputs, metrics, and data that fits it.
    check_explainer an explainer gives one well-formed Explanation per text: one score per
                    token, words that sum their pieces, the target and probability the model gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from toolkit.contracts import check_dataset, check_explainer, check_model, check_task, tiny_dataset
from toolkit.data import TextDataset
from toolkit.manager import PtmPluginManager, create_plugin_manager

__all__ = [
    "check_dataset",
    "check_explainer",
    "check_model",
    "check_task",
    "ptm_cli",
    "ptm_manager",
    "ptm_register",
    "ptm_tiny_data",
    "ptm_tiny_model",
    "tiny_dataset",
]


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


@pytest.fixture
def ptm_tiny_data() -> TextDataset:
    """24 short labelled sentences, train and test splits (negative/positive)."""
    return tiny_dataset()


@pytest.fixture
def ptm_tiny_model(ptm_manager: PtmPluginManager) -> Any:
    """A trainer holding a fresh ``tiny-bert`` classifier (``.model``, ``.tokenizer``,
    ``.predict_proba``), labels negative/positive."""
    if ("model", "tiny-bert") not in ptm_manager.registry:
        pytest.skip("the tiny-bert model comes from the built-in ptm_bert plugin, which is not loaded")
    return check_model(ptm_manager, "tiny-bert")
