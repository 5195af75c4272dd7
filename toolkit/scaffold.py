"""``ptm plugins new``: a plugin package skeleton that installs and passes its own tests.

The files come from ``toolkit/templates/plugin/`` (``string.Template``, ``$name``-style
placeholders), so what a new plugin starts from can be read and changed as plain files.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

from toolkit import __version__
from toolkit.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

# template file -> where it goes in the new package ("{package}" is filled in)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "{package}/__init__.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


def plugin_names(name: str) -> dict[str, str]:
    """The distribution, package and dataset id a plugin called ``name`` gets."""
    if not _NAME.match(name) or len(name) > 40:
        raise ConfigError(
            f"plugin name '{name}' is not usable: use 1-40 lower-case letters, digits and '-' "
            "(starting with a letter), e.g. ptm-mydata"
        )
    package = name.replace("-", "_")
    short = re.sub(r"^ptm[-_]", "", name).replace("_", "-")
    return {"name": name, "package": package, "dataset": f"{short}-demo"}


def new_plugin(name: str, dest: str | Path = ".") -> Path:
    """Write the skeleton of plugin ``name`` into ``dest/name`` and return that folder.

    Refuses a folder that already exists (nothing is overwritten); the files are written to a
    temporary folder first and moved into place whole.
    """
    names = plugin_names(name)
    dest = Path(dest).expanduser()
    target = dest / name
    if target.exists():
        raise ConfigError(f"{target} already exists; choose another name or --dest")
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--dest {dest} is a file; give a folder")
    dest.mkdir(parents=True, exist_ok=True)
    values = {**names, "toolkit_version": __version__}
    templates = resources.files("toolkit").joinpath("templates", "plugin")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest))
    try:
        for template, relative in FILES.items():
            text = Template(templates.joinpath(template).read_text(encoding="utf-8")).substitute(values)
            path = staging / relative.format(**names)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
