"""create_plugin_manager(): specs, then entry points (each isolated), then given plugins, then checks.

Loading is isolated per plugin: a plugin that fails to import, registers a malformed hook
implementation, implements a hook that does not exist (a misspelt name) or raises inside a
registration hook is dropped, reported as one warning line on stderr and listed as
``failed: <reason>`` by ``ptm plugins list``. Everything else keeps working.

Environment:
    PTM_STRICT_PLUGINS=1     re-raise instead (tests, CI): the failure becomes an error.
    PTM_LOAD_PLUGINS=a,b     load only these entry points ('' loads none).
    PTM_DISABLE_PLUGINS=a,b  never load these entry points.
Names match the entry-point name or the distribution name.

A plugin that builds on another declares it (see :func:`plugin_requirements`); when the other
is disabled or failed, the plugin is dropped too, as ``failed: needs plugin <other> (...)``,
rather than breaking later on a record or a module that is not there.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from toolkit import PROJECT_NAME, hookspecs
from toolkit.errors import ConfigError, PluginLoadError
from toolkit.registry import closest

if TYPE_CHECKING:  # pragma: no cover - typing only: toolkit.hooks is imported where it is built
    from toolkit.hooks import Hooks
    from toolkit.registry import Registry

ENTRY_POINT_GROUP = PROJECT_NAME
BUILTIN_DISTRIBUTION = "ptm-toolkit"


@dataclass
class PluginStatus:
    """What ``ptm plugins list`` shows for one plugin."""

    name: str
    status: str = "loaded"
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    records: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "loaded"

    @property
    def ids(self) -> dict[str, list[str]]:
        """Everything the plugin contributed: record ids by kind, and its commands."""
        return {**self.records, **({"command": self.commands} if self.commands else {})}


def _stderr_warning(line: str) -> None:
    print(f"ptm: warning: {line}", file=sys.stderr)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _name_list(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class PtmPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers each plugin's status and builds the registry.

    Use :func:`create_plugin_manager` rather than constructing one directly.
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        report: Callable[[str], None] = _stderr_warning,
    ) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.report = report
        self.statuses: dict[str, PluginStatus] = {}
        self._hooks: Any = None

    # -- the typed facade -----------------------------------------------------------------

    @property
    def hooks(self) -> Hooks:
        """The typed facade (:class:`toolkit.hooks.Hooks`) the core calls hooks through."""
        if self._hooks is None:
            from toolkit.hooks import Hooks

            self._hooks = Hooks(self)
        return self._hooks

    @property
    def registry(self) -> Registry:
        """Every record the loaded plugins registered (built on first use)."""
        return self.hooks.registry()

    # -- registration ---------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a plugin object and validate its hook names at once.

        A hook implementation whose name no spec declares (``ptm_register_model``) is an
        error here, naming the closest real hook, rather than silently never being called.
        """
        plugin_name = super().register(plugin, name)
        if plugin_name is None:
            return None
        unknown = [
            caller.name for caller in self.get_hookcallers(plugin) or [] if not caller.has_spec()
        ]
        if unknown:
            super().unregister(plugin)
            hook = unknown[0]
            hint = closest(hook, [n for n in dir(hookspecs) if n.startswith("ptm_")], n=1)
            did_you_mean = f"; did you mean {hint[0]}?" if hint else ""
            raise pluggy.PluginValidationError(
                plugin,
                f"plugin '{plugin_name}' implements unknown hook {hook}{did_you_mean} "
                "(ptm plugins hooks lists them)",
            )
        self.statuses.setdefault(plugin_name, PluginStatus(name=plugin_name))
        self._invalidate()
        return plugin_name

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        removed = super().unregister(plugin, name)
        for plugin_name, status in list(self.statuses.items()):
            if status.ok and self.get_plugin(plugin_name) is None:
                del self.statuses[plugin_name]
        self._invalidate()
        return removed

    def _invalidate(self) -> None:
        if self._hooks is not None:
            self._hooks.invalidate()

    def fail(self, name: str, error: BaseException, *, during: str, reason: str | None = None) -> None:
        """Drop a plugin that broke, record why (``reason``, by default the error's first
        line), and warn (or raise in strict mode)."""
        plugin = self.get_plugin(name)
        if plugin is not None:
            super().unregister(plugin)
            self._invalidate()
        reason = reason or _one_line(error)
        status = self.statuses.setdefault(name, PluginStatus(name=name))
        status.status = f"failed: {reason}"
        message = f"plugin '{name}' failed {during}: {reason}"
        if self.strict:
            raise PluginLoadError(message) from error
        self.report(f"{message} (it is skipped; PTM_STRICT_PLUGINS=1 makes this an error)")

    def load_entry_points(
        self,
        *,
        allow: set[str] | None = None,
        block: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        """Load every ``ptm`` entry point, each in isolation (see the module docstring)."""
        seen: dict[str, metadata.EntryPoint] = {}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen[ep.name] = ep
            dist = ep.dist.name if ep.dist is not None else None
            status = PluginStatus(
                name=ep.name,
                distribution=dist,
                version=ep.dist.version if ep.dist is not None else None,
                module=ep.value,
                builtin=_normalise(dist) == BUILTIN_DISTRIBUTION,
            )
            self.statuses[ep.name] = status
            names = {ep.name, dist or ""}
            if allow is not None and not names & allow:
                status.status = "disabled: not in PTM_LOAD_PLUGINS"
                continue
            if names & block:
                status.status = "disabled: in PTM_DISABLE_PLUGINS"
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as error:  # noqa: BLE001 - isolation is the point
                self.fail(ep.name, error, during="to load")
                continue
            self.statuses[ep.name] = status  # register() may have made a bare one
        known = {n for s in self.statuses.values() for n in (s.name, _normalise(s.distribution)) if n}
        for variable, names in (("PTM_LOAD_PLUGINS", allow or set()), ("PTM_DISABLE_PLUGINS", block)):
            unknown = sorted(n for n in names if n not in known and _normalise(n) not in known)
            if unknown:
                from toolkit.registry import closest

                near = closest(unknown[0], sorted(known), n=1)
                hint = f" Did you mean '{near[0]}'?" if near else ""
                raise ConfigError(
                    f"{variable} names '{unknown[0]}', which is not an installed plugin.{hint} "
                    "(ptm plugins list --all)"
                )
        self._drop_unmet_requirements(list(seen.values()))

    def _drop_unmet_requirements(self, eps: list[metadata.EntryPoint]) -> None:
        """Drop each loaded plugin that needs one that is not loaded, until none is left."""
        if all(status.ok for status in self.statuses.values()):
            return  # nothing is missing: spare `ptm --help` reading every distribution's metadata
        needs = plugin_requirements(eps)
        dropped = True
        while dropped:
            dropped = False
            for name, required in needs.items():
                if not self.statuses[name].ok:
                    continue
                missing = [r for r in required if not (r in self.statuses and self.statuses[r].ok)]
                if missing:
                    other = self.statuses.get(missing[0])
                    why = other.status if other is not None else "not installed"
                    reason = f"needs plugin {missing[0]} ({why})"
                    self.fail(name, PluginLoadError(reason), during="to load", reason=reason)
                    dropped = True


def plugin_requirements(eps: Iterable[metadata.EntryPoint]) -> dict[str, list[str]]:
    """The plugins each entry point's plugin needs, by plugin name.

    Two declarations count. A distribution that depends on another (its ``dependencies``,
    Requires-Dist) needs every ``ptm`` plugin of it, except the toolkit's own distribution,
    which a dependency on means the core. Plugins shipped in one distribution name each other
    in its ``pyproject.toml`` as ``[tool.ptm.plugins.<name>] requires = [...]``, read where the
    distribution was installed from its source tree (``pip install -e .``).
    """
    eps = list(eps)
    by_dist: dict[str, list[str]] = {}
    for ep in eps:
        if ep.dist is not None:
            by_dist.setdefault(_normalise(ep.dist.name), []).append(ep.name)
    tables: dict[str, Mapping[str, Any]] = {}
    depends: dict[str, list[str]] = {}
    needs: dict[str, list[str]] = {}
    for ep in eps:
        if ep.dist is None:
            continue
        own = _normalise(ep.dist.name)
        if own not in tables:
            tables[own] = _source_plugin_table(ep.dist)
            depends[own] = []
            for line in ep.dist.requires or []:
                name, _, marker = line.partition(";")
                dist = _normalise(re.split(r"[\s\[<>=!~(]", name.strip(), maxsplit=1)[0])
                if "extra" not in marker and dist not in (own, BUILTIN_DISTRIBUTION):
                    depends[own] += by_dist.get(dist, [])
        entry = tables[own].get(ep.name, {})
        required = [str(r) for r in entry.get("requires", [])] if isinstance(entry, Mapping) else []
        if required + depends[own]:
            needs[ep.name] = required + depends[own]
    return needs


def _source_plugin_table(dist: metadata.Distribution) -> Mapping[str, Any]:
    """``[tool.ptm.plugins]`` of the ``pyproject.toml`` a distribution was installed from, if
    that source tree is where the install points (editable); ``{}`` otherwise."""
    import tomllib
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    candidates = []
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    if isinstance(direct, dict) and str(direct.get("url", "")).startswith("file:"):
        candidates.append(Path(unquote(urlparse(direct["url"]).path)) / "pyproject.toml")
    candidates.append(Path(str(dist.locate_file("pyproject.toml"))))  # a .egg-info beside it
    for path in candidates:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _normalise(data.get("project", {}).get("name")) == _normalise(dist.name):
            table = data.get("tool", {}).get("ptm", {}).get("plugins", {})
            return table if isinstance(table, Mapping) else {}
    return {}


def _normalise(name: str | None) -> str:
    return (name or "").lower().replace("_", "-")


def create_plugin_manager(
    *,
    entry_points: bool = True,
    plugins: Iterable[object] = (),
    env: Mapping[str, str] | None = None,
    report: Callable[[str], None] | None = None,
) -> PtmPluginManager:
    """Build the plugin manager the toolkit runs on.

    Order: hook specs; then every ``ptm`` entry point, each loaded in isolation and filtered
    by ``PTM_LOAD_PLUGINS`` / ``PTM_DISABLE_PLUGINS``; then ``plugins`` given here (a
    notebook's or a test's own plugin objects); then ``check_pending()``.

    Args:
        entry_points: load installed plugins (``False`` gives a bare manager, for tests).
        plugins: extra plugin objects (modules, classes or instances) to register.
        env: environment to read the ``PTM_*`` variables from (default ``os.environ``).
        report: where one-line warnings go (default: stderr).

    Raises:
        PluginLoadError: a plugin failed and ``PTM_STRICT_PLUGINS`` is set.
    """
    env = os.environ if env is None else env
    pm = PtmPluginManager(strict=_truthy(env.get("PTM_STRICT_PLUGINS")))
    if report is not None:
        pm.report = report
    if entry_points:
        allow = _name_list(env["PTM_LOAD_PLUGINS"]) if "PTM_LOAD_PLUGINS" in env else None
        block = _name_list(env.get("PTM_DISABLE_PLUGINS", ""))
        pm.load_entry_points(allow=allow, block=block)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm
