"""Drift guards: every hook is documented, reachable through the facade, referenced in the
docs, and callable with dummy arguments."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest

from toolkit import hookimpl, hookspecs
from toolkit.reference import hook_reference_markdown, hook_summaries
from toolkit.context import RunContext
from toolkit.hooks import Hooks
from toolkit.manager import create_plugin_manager
from toolkit.registry import HOOK_RECORD_TYPES

SPECS = {name: fn for name, fn in vars(hookspecs).items() if name.startswith("ptm_")}
LIFECYCLE = [name for name in SPECS if not name.startswith("ptm_register_")]

DUMMY = {
    "run": RunContext("test"),
    "epoch": 1,
    "step": 3,
    "batch": {"input_ids": [[101, 102]]},
    "loss": 0.25,
    "metrics": {"accuracy": 1.0},
    "split": "test",
    "texts": ["a fine film"],
    "method": "ig",
    "explanations": ["one explanation"],
    "error": RuntimeError("dummy"),
}


def test_there_is_a_triple_for_every_lifecycle_event():
    for event in hookspecs.LIFECYCLE_EVENTS:
        triple = [f"ptm_before_{event}", f"ptm_after_{event}", f"ptm_on_{event}_error"]
        assert all(name in SPECS for name in triple), event
        before, after, error = (inspect.signature(SPECS[n]).parameters for n in triple)
        assert list(after)[: len(before)] == list(before)  # after adds its result
        assert list(error) == [*before, "error"]
    assert len(LIFECYCLE) == 3 * len(hookspecs.LIFECYCLE_EVENTS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_is_typed_and_documented(name):
    fn = SPECS[name]
    doc = inspect.getdoc(fn) or ""
    for section in ("Args:", "Returns:", ".. versionadded::"):
        assert section in doc, f"{name} lacks {section}"
    for param in inspect.signature(fn).parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) untyped"
        assert f"{param.name}:" in doc, f"{name} does not document {param.name}"


def test_registration_hooks_each_take_one_record_type():
    registration = {n for n in SPECS if n.startswith("ptm_register_")} - {"ptm_register_commands"}
    assert registration == set(hookspecs.REGISTRATION_HOOKS) == set(HOOK_RECORD_TYPES)


@pytest.mark.parametrize("name", LIFECYCLE)
def test_every_lifecycle_hook_has_a_facade_method(name):
    method = getattr(Hooks, name.removeprefix("ptm_"))
    facade_params = list(inspect.signature(method).parameters)[1:]
    assert facade_params == list(inspect.signature(SPECS[name]).parameters)


def _recorder(calls):
    """A plugin implementing every hook, built from the specs, that records its calls."""
    namespace = {"calls": calls}
    for name, spec in SPECS.items():
        params = list(inspect.signature(spec).parameters)
        # pluggy reads an implementation's argument names from its code object, hence exec
        exec(f"def {name}({', '.join(params)}):\n    calls.append(({name!r}, dict(locals())))",
             namespace)
    return type("Recorder", (), {name: staticmethod(hookimpl(namespace[name])) for name in SPECS})()


def test_every_hook_is_callable_with_dummy_arguments_through_the_facade():
    calls = []
    pm = create_plugin_manager(entry_points=False, plugins=[_recorder(calls)])
    pm.registry  # noqa: B018 - fires every registration hook
    pm.hooks.register_commands(click.Group("ptm"))
    for name in LIFECYCLE:
        params = inspect.signature(SPECS[name]).parameters
        getattr(pm.hooks, name.removeprefix("ptm_"))(**{p: DUMMY[p] for p in params})
    assert sorted(name for name, _ in calls) == sorted(SPECS)
    after_step = dict(calls)["ptm_after_step"]
    assert after_step == {"run": DUMMY["run"], "step": 3, "batch": DUMMY["batch"], "loss": 0.25}


def test_every_hook_appears_in_the_hook_reference():
    reference = Path(__file__).parents[1] / "docs" / "hooks.md"
    text = reference.read_text()
    assert text == hook_reference_markdown(), (
        "docs/hooks.md is stale: regenerate it with `ptm plugins hooks --markdown > docs/hooks.md`"
    )
    for name in SPECS:
        assert f"## `{name}" in text


def test_ptm_plugins_hooks_lists_each_hook_with_its_first_docstring_line():
    summaries = dict(hook_summaries())
    assert set(summaries) == set(SPECS)
    assert summaries["ptm_register_models"] == "Register the models this plugin provides."
