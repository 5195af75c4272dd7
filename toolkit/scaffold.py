"""``ptm plugins new``: a plugin package skeleton that installs and passes its own tests.

The files come from ``toolkit/templates/plugin/`` (``string.Template``, ``$name``-style
placeholders), so what a new plugin starts from can be read and changed as plain files.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

from toolkit import __version__
from toolkit.errors import ConfigError
from toolkit.runs import folder_error, make_folder

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
    # fullmatch: a "$" would let a trailing newline through into file names and pyproject.toml
    if not _NAME.fullmatch(name) or len(name) > 40:
        raise ConfigError(
            f"plugin name {name!r} is not usable: use 1-40 lower-case letters, digits and '-' "
            "(starting with a letter), e.g. ptm-mydata"
        )
    package = name.replace("-", "_")
    if keyword.iskeyword(package):
        raise ConfigError(
            f"plugin name {name!r} gives the package {package}, a Python keyword that cannot be "
            f"imported; choose another name, e.g. ptm-{name}"
        )
    found = importlib.util.find_spec(package)
    if found is not None and found.origin is not None:  # not a mere folder of that name (a namespace)
        raise ConfigError(
            f"plugin name {name!r} gives the package {package}, which is already an installed "
            "module; choose another name"
        )
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
    make_folder(dest)
    values = {**names, "toolkit_version": __version__}
    templates = resources.files("toolkit").joinpath("templates", "plugin")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest))
    except OSError as error:
        raise folder_error(dest, error) from None
    try:
        for template, relative in FILES.items():
            text = Template(templates.joinpath(template).read_text(encoding="utf-8")).substitute(values)
            path = staging / relative.format(**names)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise folder_error(dest, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
