"""Typed exceptions. Each message is one line for a person: the problem, then the fix.

The CLI prints ``ptm: <message>`` and exits with status 2 for any :class:`PtmError`.
"""

from __future__ import annotations


class PtmError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class PluginError(PtmError):
    """A plugin could not be loaded, or broke a rule of the contract."""


class PluginLoadError(PluginError):
    """A plugin failed to import or register (raised only in strict mode)."""


class PluginHookError(PluginError):
    """A plugin raised inside one of its hook implementations."""

    def __init__(self, plugin: str, hook: str, error: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(
            f"plugin '{plugin}' failed in hook {hook}: {type(error).__name__}: {error} "
            f"(disable it with PTM_DISABLE_PLUGINS={plugin}, or fix the plugin)"
        )


class RegistryError(PtmError):
    """A record was rejected by the registrar."""


class DuplicateIdError(RegistryError):
    """Two plugins registered the same id for the same kind of record."""


class UnknownIdError(RegistryError, LookupError):
    """A lookup asked for an id that no plugin registered."""

    def __init__(self, kind: str, id: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.id = id
        self.suggestions = suggestions
        hint = f" Did you mean {_quoted_or(suggestions)}?" if suggestions else ""
        super().__init__(f"{kind} '{id}' not found.{hint} (ptm plugins list --all)")


class ConfigError(PtmError, ValueError):
    """A user-supplied value is out of range or inconsistent."""


class PtmWarning(UserWarning):
    """Something works but deserves a second look; the CLI prints ``ptm: warning: <message>``."""


def _quoted_or(words: list[str]) -> str:
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
