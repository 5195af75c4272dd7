"""Layers that hold: the core imports no plugin, a plugin imports only the plugins it declares
(pyproject.toml, ``[tool.ptm.plugins.<name>] requires``), the plugin manager honours those
declarations, and ``python -m toolkit.cli`` runs every command (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import make_entry_point_plugin
from toolkit.errors import PluginLoadError
from toolkit.manager import create_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Each built-in plugin's import name and the folder its package is built from.
PLUGINS = {name: ROOT / PYPROJECT["tool"]["setuptools"]["package-dir"][name]
           for name in PYPROJECT["project"]["entry-points"]["ptm"].values()}
REQUIRES = {name: set(table.get("requires", []))
            for name, table in PYPROJECT.get("tool", {}).get("ptm", {}).get("plugins", {}).items()}
WHY = "docs/architecture.md, section Layers"


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (they may name a plugin as an example)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def plugin_references(path: Path) -> list[tuple[int, str, str]]:
    """``(line, plugin, how)`` for every place a module reaches a built-in plugin's code:
    ``import``/``from`` statements anywhere (inside functions too), ``importlib.import_module``
    or ``__import__`` of a literal name, and a record's lazy factory string ``"pkg.mod:attr"``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        names: list[tuple[str, str]] = []
        if isinstance(node, ast.Import):
            names = [(alias.name, f"import {alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [(node.module, f"from {node.module} import ...")]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None)
                   in ("import_module", "__import__"))):
            names = [(node.args[0].value, f"import_module({node.args[0].value!r})")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            module, sep, attr = node.value.partition(":")
            if sep and attr and module.replace(".", "").replace("_", "").isalnum() and " " not in node.value:
                names = [(module, f'the factory "{node.value}"')]
        for module, how in names:
            top = module.split(".")[0]
            if top in PLUGINS:
                found.append((getattr(node, "lineno", 0), top, how))
    return sorted(found)


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_core_imports_no_plugin():
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {how} reaches plugin {plugin}; the core never imports a "
        "plugin: reach its work through the registry (a record's factory) or a hook instead "
        f"({WHY})"
        for path in _python_files(ROOT / "toolkit")
        for line, plugin, how in plugin_references(path)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_plugin_imports_only_the_plugins_it_declares():
    wrong = []
    for plugin, folder in PLUGINS.items():
        declared = REQUIRES.get(plugin, set())
        for path in _python_files(folder):
            for line, other, how in plugin_references(path):
                if other != plugin and other not in declared:
                    fix = sorted(declared | {other})
                    wrong.append(
                        f"{path.relative_to(ROOT)}:{line}: {how} reaches plugin {other}, which {plugin} "
                        f"does not declare. Go through the registry or toolkit instead, or declare "
                        f"it in pyproject.toml: [tool.ptm.plugins.{plugin}] requires = "
                        f"{fix!r} ({WHY})".replace("'", '"')
                    )
    assert not wrong, "\n".join(wrong)


def test_every_declared_requirement_is_a_plugin_that_is_used():
    for plugin, required in REQUIRES.items():
        assert plugin in PLUGINS, (
            f"pyproject.toml has [tool.ptm.plugins.{plugin}], but {plugin} is no entry point of the "
            f"'ptm' group ({', '.join(PLUGINS)}); fix the table's name")
        for other in required:
            assert other in PLUGINS and other != plugin, (
                f"[tool.ptm.plugins.{plugin}] requires {other!r}, which is not another built-in plugin "
                f"({', '.join(p for p in PLUGINS if p != plugin)})")
        used = {other for path in _python_files(PLUGINS[plugin]) for _, other, _ in plugin_references(path)}
        stale = sorted(required - used)
        assert not stale, (
            f"[tool.ptm.plugins.{plugin}] requires {', '.join(stale)}, but no module of {plugin} uses "
            f"it: drop it from the table in pyproject.toml ({WHY})")


def test_feature_plugins_build_only_on_toolkit():
    """Only the course combines features; a feature plugin builds on toolkit alone."""
    assert set(REQUIRES) <= {"ptm_course"}, f"only ptm_course may require plugins, not {sorted(set(REQUIRES) - {'ptm_course'})}"


def test_the_ast_check_sees_imports_inside_functions_and_factory_strings(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        '"""Uses "ptm_bert.models:load" as an example in a docstring: not a reference."""\n'
        "import json\n"
        "def f():\n"
        "    from ptm_dp.dpsgd import make_dp_sgd\n"
        "    import importlib\n"
        "    importlib.import_module('ptm_captum.explainers')\n"
        "FACTORY = 'ptm_textdata.files:load_file'\n"
    )
    assert [(p, line) for line, p, _ in plugin_references(module)] == [
        ("ptm_dp", 4), ("ptm_captum", 6), ("ptm_textdata", 7)]


# -- the plugin manager honours the declarations -----------------------------------------------


def test_a_builtin_whose_requirement_is_disabled_is_dropped_naming_it():
    warnings = []
    pm = create_plugin_manager(env={"PTM_DISABLE_PLUGINS": "ptm_dp"}, report=warnings.append)
    status = pm.statuses["ptm_course"]
    assert status.status == "failed: needs plugin ptm_dp (disabled: in PTM_DISABLE_PLUGINS)"
    assert pm.get_plugin("ptm_course") is None
    assert all(pm.statuses[name].ok for name in ("ptm_bert", "ptm_textdata", "ptm_captum"))
    assert warnings == ["plugin 'ptm_course' failed to load: needs plugin ptm_dp (disabled: in "
                        "PTM_DISABLE_PLUGINS) (it is skipped; PTM_STRICT_PLUGINS=1 makes this an error)"]
    assert "lesson" not in pm.registry.by_plugin("ptm_course")

    only = create_plugin_manager(env={"PTM_LOAD_PLUGINS": "ptm_course"}, report=lambda line: None)
    assert only.statuses["ptm_course"].status.startswith("failed: needs plugin ptm_bert (disabled: not in PTM_LOAD_PLUGINS)")
    with pytest.raises(PluginLoadError, match=r"plugin 'ptm_course' failed to load: needs plugin ptm_bert"):
        create_plugin_manager(env={"PTM_LOAD_PLUGINS": "ptm_course", "PTM_STRICT_PLUGINS": "1"})


def test_a_third_party_plugin_needs_the_plugins_of_the_distributions_it_depends_on(plugin_dir):
    make_entry_point_plugin(plugin_dir, "tp_base", "")
    make_entry_point_plugin(plugin_dir, "tp_needs", "")
    metadata = plugin_dir / "tp_needs-0.3.dist-info" / "METADATA"
    # A dependency on the toolkit's distribution is a dependency on the core, not on its plugins.
    metadata.write_text(metadata.read_text() + "Requires-Dist: tp-base>=0.1\nRequires-Dist: ptm-toolkit\n"
                        'Requires-Dist: tp-absent; extra == "docs"\n')

    pm = create_plugin_manager(env={"PTM_DISABLE_PLUGINS": "ptm_course"}, report=lambda line: None)
    assert pm.statuses["tp_needs"].ok  # every built-in but the course is loaded: no one needs it

    pm = create_plugin_manager(env={"PTM_DISABLE_PLUGINS": "tp_base"}, report=lambda line: None)
    assert pm.statuses["tp_needs"].status == "failed: needs plugin tp_base (disabled: in PTM_DISABLE_PLUGINS)"

    (plugin_dir / "tp_base.py").write_text("raise ImportError('no libbase')\n")
    sys.modules.pop("tp_base", None)
    pm = create_plugin_manager(env={}, report=lambda line: None)
    assert pm.statuses["tp_needs"].status == (
        "failed: needs plugin tp_base (failed: ImportError: no libbase)")
    assert all(pm.statuses[name].ok for name in PLUGINS)


# -- python -m ---------------------------------------------------------------------------------


def _python_m(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTM_")}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


@pytest.mark.parametrize("args", [
    ("toolkit.cli", "pretrain", "--help"),
    ("toolkit.cli", "privacy", "--help"),
    ("toolkit.cli", "privacy", "sweep", "--help"),
    ("toolkit", "train", "--help"),
])
def test_python_m_shows_every_commands_help(args):
    result = _python_m(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ptm "), result.stdout[:200]


def test_python_m_runs_a_plugin_command(tmp_path):
    # The command reaches the plugin manager through toolkit.cli, the module plugins import.
    for module in ("toolkit.cli", "toolkit"):
        result = _python_m(module, "privacy", "audit", str(tmp_path / "absent"))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("ptm: run folder ") and len(result.stderr.splitlines()) == 1, result.stderr


def _toolkit_imports(path: Path) -> set[str]:
    """The toolkit modules a module imports anywhere (TYPE_CHECKING blocks and functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("toolkit"))
    return found


def test_the_hook_facade_and_the_manager_do_not_import_each_other_both_ways():
    # The facade is typed against toolkit.protocols.PluginHost; only the manager builds it.
    root = Path(__file__).resolve().parent.parent / "toolkit"
    assert "toolkit.manager" not in _toolkit_imports(root / "hooks.py")
    assert "toolkit.hooks" in _toolkit_imports(root / "manager.py")
