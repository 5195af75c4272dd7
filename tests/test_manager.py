from __future__ import annotations

import pluggy
import pytest

from conftest import make_entry_point_plugin
from toolkit import hookimpl
from toolkit.context import RunContext
from toolkit.errors import PluginHookError, PluginLoadError
from toolkit.manager import create_plugin_manager

BUILTINS = {"ptm_bert", "ptm_textdata", "ptm_dp", "ptm_captum", "ptm_course"}

GOOD = """
from toolkit import hookimpl
from toolkit.registry import TaskSpec

@hookimpl
def ptm_register_tasks(register):
    register(TaskSpec(id="tp-task", summary="a task from a throw-away plugin"))
"""


def test_builtins_load_through_the_entry_point_group():
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    builtins = {s.name for s in pm.statuses.values() if s.builtin}
    assert builtins == BUILTINS
    assert all(pm.statuses[name].ok for name in BUILTINS)
    assert pm.statuses["ptm_bert"].distribution == "ptm-toolkit"


def test_a_plugin_that_raises_on_import_is_isolated(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_broken", "raise ZeroDivisionError('boom on import')")
    warnings = []
    pm = create_plugin_manager(env={}, report=warnings.append)
    assert pm.statuses["tp_broken"].status == "failed: ZeroDivisionError: boom on import"
    assert pm.get_plugin("tp_broken") is None
    assert all(pm.statuses[name].ok for name in BUILTINS)  # the others still load
    assert warnings == [
        "plugin 'tp_broken' failed to load: ZeroDivisionError: boom on import "
        "(it is skipped; PTM_STRICT_PLUGINS=1 makes this an error)"
    ]


def test_strict_mode_turns_a_broken_plugin_into_an_error_naming_it(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_broken", "raise ZeroDivisionError('boom')")
    with pytest.raises(PluginLoadError, match="plugin 'tp_broken' failed to load"):
        create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})


def test_a_misspelt_hook_fails_loudly_with_the_right_name(plugin_dir):
    make_entry_point_plugin(
        plugin_dir,
        "tp_typo",
        """
        from toolkit import hookimpl

        @hookimpl
        def ptm_register_model(register):
            pass
        """,
    )
    warnings = []
    pm = create_plugin_manager(env={}, report=warnings.append)
    assert "unknown hook ptm_register_model; did you mean ptm_register_models?" in (
        pm.statuses["tp_typo"].status
    )
    assert len(warnings) == 1
    pm.check_pending()  # nothing half-registered is left behind


def test_a_hook_argument_the_spec_lacks_is_refused(plugin_dir):
    make_entry_point_plugin(
        plugin_dir,
        "tp_args",
        """
        from toolkit import hookimpl

        @hookimpl
        def ptm_before_run(run, colour):
            pass
        """,
    )
    pm = create_plugin_manager(env={}, report=lambda line: None)
    assert pm.statuses["tp_args"].status.startswith("failed: PluginValidationError")


def test_load_allow_list_and_block_list(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_good", GOOD)
    none = create_plugin_manager(env={"PTM_LOAD_PLUGINS": ""})
    assert none.get_plugins() == set()
    assert none.statuses["tp_good"].status == "disabled: not in PTM_LOAD_PLUGINS"

    only = create_plugin_manager(env={"PTM_LOAD_PLUGINS": "tp_good, ptm_bert"})
    assert {only.get_name(p) for p in only.get_plugins()} == {"tp_good", "ptm_bert"}

    blocked = create_plugin_manager(env={"PTM_DISABLE_PLUGINS": "tp-good"})  # by distribution
    assert blocked.get_plugin("tp_good") is None
    assert blocked.statuses["tp_good"].status == "disabled: in PTM_DISABLE_PLUGINS"
    assert blocked.get_plugin("ptm_bert") is not None


def test_a_third_party_plugin_contributes_records_with_provenance(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_good", GOOD, dist="tp-good-dist")
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    status = pm.statuses["tp_good"]
    assert (status.distribution, status.version, status.builtin) == ("tp-good-dist", "0.3", False)
    assert pm.registry.get("task", "tp-task").plugin == "tp_good"
    assert status.ids == {"task": ["tp-task"]} and status.hooks == ["ptm_register_tasks"]


def test_a_plugin_raising_inside_a_registration_hook_is_dropped(plugin_dir):
    make_entry_point_plugin(
        plugin_dir,
        "tp_raises",
        """
        from toolkit import hookimpl

        @hookimpl
        def ptm_register_models(register):
            raise KeyError("no weights here")
        """,
    )
    warnings = []
    pm = create_plugin_manager(env={}, report=warnings.append)
    assert "model" in pm.registry.by_plugin("ptm_bert")
    status = pm.statuses["tp_raises"].status
    assert status.startswith("failed: PluginHookError: plugin 'tp_raises' failed in hook ptm_register_models")
    assert pm.get_plugin("tp_raises") is None


def test_an_error_in_a_lifecycle_hook_names_the_plugin_and_the_hook():
    class Noisy:
        @hookimpl
        def ptm_after_step(self, loss):
            raise RuntimeError("cannot log")

    class Quiet:
        @hookimpl
        def ptm_after_step(self, step):
            pass

    pm = create_plugin_manager(entry_points=False)
    pm.register(Quiet(), name="quiet")
    pm.register(Noisy(), name="noisy")
    with pytest.raises(PluginHookError) as info:
        pm.hooks.after_step(RunContext("train"), step=1, batch={}, loss=0.5)
    assert (info.value.plugin, info.value.hook) == ("noisy", "ptm_after_step")
    assert "plugin 'noisy' failed in hook ptm_after_step: RuntimeError: cannot log" in str(info.value)


def test_registering_an_object_with_an_unknown_hook_is_refused():
    class Sneaky:
        @hookimpl
        def ptm_bogus(self):
            pass

    pm = create_plugin_manager(entry_points=False)
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook ptm_bogus"):
        pm.register(Sneaky(), name="sneaky")
    assert pm.get_plugin("sneaky") is None


def test_every_builtin_record_factory_resolves_to_a_callable():
    registry = create_plugin_manager().registry
    records = [r for r in registry if getattr(r, "factory", None) is not None]
    assert len(records) >= 8
    for record in records:
        assert callable(record.load()), record.id
