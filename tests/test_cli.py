from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import click
import pytest

from conftest import make_entry_point_plugin
from test_manager import BUILTINS
from toolkit import __version__, hookimpl
from toolkit.cli import create_cli
from toolkit.manager import create_plugin_manager

PTM = shutil.which("ptm") or os.path.join(os.path.dirname(sys.executable), "ptm")


def run_ptm(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
    env.update(env_extra or {})
    return subprocess.run([PTM, *args], capture_output=True, text=True, env=env, timeout=60)


def test_version(ptm_cli):
    result = ptm_cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"ptm, version {__version__}"


def test_plugins_list_all_json_lists_the_builtins_with_hooks_and_ids(ptm_cli):
    result = ptm_cli("plugins", "list", "--all", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert BUILTINS <= set(rows)
    bert = rows["ptm_bert"]
    assert bert["status"] == "loaded" and bert["builtin"] is True
    assert bert["version"] == __version__ and bert["distribution"] == "ptm-toolkit"
    assert "ptm_register_models" in bert["hooks"]
    assert {"minilm", "tiny-bert"} <= set(bert["ids"]["model"])
    assert "dp-sgd" in rows["ptm_dp"]["ids"]["privacy"]
    assert "ig" in rows["ptm_captum"]["ids"]["explainer"]


def test_plugins_list_hides_builtins_without_all(ptm_cli):
    result = ptm_cli("plugins", "list")
    assert result.exit_code == 0
    assert "No third-party plugins installed" in result.output
    assert json.loads(ptm_cli("plugins", "list", "--json").output) == []


def test_plugins_list_text_shows_status_hooks_and_ids(ptm_cli):
    out = ptm_cli("plugins", "list", "--all").output
    assert f"ptm_bert {__version__} (built-in): loaded" in out
    assert "  model: bert, minilm, scratch, tiny-bert" in out
    assert "  hooks: ptm_register_commands, ptm_register_models, ptm_register_trainers" in out


def test_plugin_commands_are_added_and_attributed(ptm_register, ptm_manager, ptm_cli):
    class Greeter:
        @hookimpl
        def ptm_register_commands(self, cli):
            @cli.command("hello")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    ptm_register(Greeter(), name="greeter")
    assert ptm_cli("hello").output == "hello from a plugin\n"
    rows = {r["name"]: r for r in json.loads(ptm_cli("plugins", "list", "--json").output)}
    assert rows["greeter"]["ids"]["command"] == ["hello"]


def test_a_plugin_command_may_not_replace_a_core_command():
    class Hijack:
        @hookimpl
        def ptm_register_commands(self, cli):
            cli.add_command(click.Command("plugins"))

    warnings = []
    pm = create_plugin_manager(entry_points=False, env={}, report=warnings.append)
    pm.register(Hijack(), name="hijack")
    create_cli(pm).plugin_manager()
    assert "adds command 'plugins', which 'ptm' already provides" in warnings[0]
    assert pm.statuses["hijack"].status.startswith("failed:")


def test_unknown_command_suggests_the_closest(ptm_cli):
    result = ptm_cli("plugin")
    assert result.exit_code == 2
    assert result.output.strip() == "ptm: no command 'plugin'. Did you mean 'plugins'? (ptm --help lists them)"


def test_plugins_hooks_lists_every_hook(ptm_cli):
    out = ptm_cli("plugins", "hooks").output
    assert out.count("\n") == 23
    assert out.startswith("ptm_register_models      Register the models this plugin provides.")


@pytest.fixture
def broken_plugin_env(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_broken", "raise ImportError('missing libfoo')")
    return {"PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}


def test_installed_broken_plugin_does_not_break_help_or_list(broken_plugin_env):
    help_ = run_ptm("--help", env_extra=broken_plugin_env)
    assert help_.returncode == 0 and "plugins" in help_.stdout
    assert help_.stderr == (
        "ptm: warning: plugin 'tp_broken' failed to load: ImportError: missing libfoo "
        "(it is skipped; PTM_STRICT_PLUGINS=1 makes this an error)\n"
    )
    listed = run_ptm("plugins", "list", env_extra=broken_plugin_env)
    assert listed.returncode == 0
    assert "tp_broken 0.3 (tp-broken): failed: ImportError: missing libfoo" in listed.stdout


def test_strict_mode_exits_2_naming_the_broken_plugin(broken_plugin_env):
    result = run_ptm("plugins", "list", env_extra={**broken_plugin_env, "PTM_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert result.stderr == "ptm: plugin 'tp_broken' failed to load: ImportError: missing libfoo\n"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from toolkit.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'opacus', 'captum', 'sklearn', 'matplotlib')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY=", result.stdout
