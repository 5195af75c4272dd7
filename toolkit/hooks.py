"""The typed facade through which the core calls every hook.

Core code never calls ``pm.hook.<name>(...)`` directly: it calls a method here, which uses
keyword arguments, validates what comes back and, when a plugin raises, says which plugin
and which hook (:class:`~toolkit.errors.PluginHookError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolkit.errors import ConfigError, PluginError, PluginHookError, PtmError
from toolkit.hookspecs import REGISTRATION_HOOKS
from toolkit.registry import Record, Registrar, Registry

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from toolkit.context import RunContext
    from toolkit.protocols import PluginHost


class Hooks:
    """One typed method per hook. Get it as ``pm.hooks``."""

    def __init__(self, pm: PluginHost) -> None:
        self._pm = pm
        self._registry: Registry | None = None

    def invalidate(self) -> None:
        """Forget the built registry (a plugin was registered or dropped)."""
        self._registry = None

    # -- registration ---------------------------------------------------------------------

    def registry(self) -> Registry:
        """Call every registration hook, plugin by plugin, and return the records.

        A plugin's records are committed only if all its registration hooks succeed, so a
        plugin that raises or registers a duplicate id is dropped whole (and reported)
        instead of leaving half its records behind.
        """
        if self._registry is not None:
            return self._registry
        registry = Registry()
        for name, plugin in list(self._pm.list_name_plugin()):
            staged: list[Record] = []
            try:
                for hook in REGISTRATION_HOOKS:
                    for impl in self._impls(hook, plugin):
                        self._call_impl(impl, hook, register=Registrar(hook, name, staged))
                for record in staged:
                    registry.add(record)
            except PtmError as error:
                self._drop(name, error, registry)
            except Exception as error:  # noqa: BLE001 - a broken plugin must not break ptm
                self._drop(name, PluginHookError(name, hook, error), registry)
        self._registry = registry
        for name, status in self._pm.statuses.items():
            if status.ok:
                status.records = registry.by_plugin(name)
                status.hooks = self.implemented_hooks(name)
        return registry

    def _drop(self, name: str, error: Exception, registry: Registry) -> None:
        for kind_records in registry._records.values():
            for id in [i for i, r in kind_records.items() if r.plugin == name]:
                del kind_records[id]
        self._pm.fail(name, error, during="to register its records")
        self._registry = None

    def register_commands(self, cli: click.Group) -> None:
        """Let each plugin add its commands; a clash of names is an error naming both."""
        origin = {name: "ptm" for name in cli.commands}
        for name, plugin in list(self._pm.list_name_plugin()):
            before = set(cli.commands)
            try:
                for impl in self._impls("ptm_register_commands", plugin):
                    staging = _CommandStaging(cli, name, origin)
                    self._call_impl(impl, "ptm_register_commands", cli=staging)
            except PtmError as error:
                self._pm.fail(name, error, during="to add its commands")
            except Exception as error:  # noqa: BLE001
                hook_error = PluginHookError(name, "ptm_register_commands", error)
                self._pm.fail(name, hook_error, during="to add its commands")
            added = sorted(set(cli.commands) - before)
            if added and name in self._pm.statuses:
                self._pm.statuses[name].commands = added

    # -- lifecycle ------------------------------------------------------------------------

    def before_run(self, run: RunContext) -> None:
        self._fire("ptm_before_run", run=run)

    def after_run(self, run: RunContext, metrics: dict[str, Any]) -> None:
        self._fire("ptm_after_run", run=run, metrics=metrics)

    def on_run_error(self, run: RunContext, error: BaseException) -> None:
        self._fire("ptm_on_run_error", run=run, error=error)

    def before_epoch(self, run: RunContext, epoch: int) -> None:
        self._fire("ptm_before_epoch", run=run, epoch=epoch)

    def after_epoch(self, run: RunContext, epoch: int, metrics: dict[str, Any]) -> None:
        self._fire("ptm_after_epoch", run=run, epoch=epoch, metrics=metrics)

    def on_epoch_error(self, run: RunContext, epoch: int, error: BaseException) -> None:
        self._fire("ptm_on_epoch_error", run=run, epoch=epoch, error=error)

    def before_step(self, run: RunContext, step: int, batch: Any) -> None:
        self._fire("ptm_before_step", run=run, step=step, batch=batch)

    def after_step(self, run: RunContext, step: int, batch: Any, loss: float) -> None:
        self._fire("ptm_after_step", run=run, step=step, batch=batch, loss=float(loss))

    def on_step_error(self, run: RunContext, step: int, batch: Any, error: BaseException) -> None:
        self._fire("ptm_on_step_error", run=run, step=step, batch=batch, error=error)

    def before_evaluate(self, run: RunContext, split: str) -> None:
        self._fire("ptm_before_evaluate", run=run, split=split)

    def after_evaluate(self, run: RunContext, split: str, metrics: dict[str, Any]) -> None:
        self._fire("ptm_after_evaluate", run=run, split=split, metrics=metrics)

    def on_evaluate_error(self, run: RunContext, split: str, error: BaseException) -> None:
        self._fire("ptm_on_evaluate_error", run=run, split=split, error=error)

    def before_explain(self, run: RunContext, texts: Sequence[str], method: str) -> None:
        self._fire("ptm_before_explain", run=run, texts=list(texts), method=method)

    def after_explain(
        self, run: RunContext, texts: Sequence[str], method: str, explanations: Sequence[Any]
    ) -> None:
        if len(explanations) != len(texts):
            raise PluginError(
                f"explainer '{method}' returned {len(explanations)} explanations for "
                f"{len(texts)} texts; it must return one per text"
            )
        self._fire(
            "ptm_after_explain",
            run=run,
            texts=list(texts),
            method=method,
            explanations=list(explanations),
        )

    def on_explain_error(
        self, run: RunContext, texts: Sequence[str], method: str, error: BaseException
    ) -> None:
        self._fire("ptm_on_explain_error", run=run, texts=list(texts), method=method, error=error)

    # -- introspection --------------------------------------------------------------------

    def implemented_hooks(self, plugin_name: str) -> list[str]:
        """The hooks a registered plugin implements, sorted."""
        plugin = self._pm.get_plugin(plugin_name)
        callers = self._pm.get_hookcallers(plugin) if plugin is not None else None
        return sorted(caller.name for caller in callers or [])

    # -- machinery ------------------------------------------------------------------------

    def _impls(self, hook: str, plugin: object) -> list[Any]:
        caller = getattr(self._pm.hook, hook)
        return [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]

    @staticmethod
    def _call_impl(impl: Any, hook: str, **kwargs: Any) -> None:
        if impl.hookwrapper or impl.wrapper:
            raise PluginError(
                f"plugin '{impl.plugin_name}' implements {hook} as a wrapper; registration "
                "hooks take plain implementations"
            )
        result = impl.function(*[kwargs[name] for name in impl.argnames])
        if result is not None:
            raise PluginError(
                f"plugin '{impl.plugin_name}' returned a value from {hook}; call register(...) "
                "instead and return None"
            )

    def _fire(self, hook: str, **kwargs: Any) -> None:
        caller = getattr(self._pm.hook, hook)
        try:
            caller(**kwargs)
        except Exception as error:
            plugin = _raising_plugin(caller.get_hookimpls(), error.__traceback__)
            # A ConfigError is the plugin telling the user what to fix: shown as it is, one line.
            if plugin is None or isinstance(error, (PluginHookError, ConfigError)):
                raise
            raise PluginHookError(plugin, hook, error) from error


def _raising_plugin(impls: list[Any], tb: TracebackType | None) -> str | None:
    """Which hook implementation an exception came out of, found from its traceback."""
    codes = {impl.function.__code__: impl.plugin_name for impl in impls}
    while tb is not None:
        name = codes.get(tb.tb_frame.f_code)
        if name is not None:
            return name
        tb = tb.tb_next
    return None


class _CommandStaging:
    """A stand-in for the ``ptm`` group that refuses a command name already taken."""

    def __init__(self, cli: click.Group, plugin: str, origin: dict[str, str]) -> None:
        self._cli = cli
        self._plugin = plugin
        self._origin = origin

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name in self._cli.commands:
            owner = self._origin.get(name, "?")
            raise PluginError(
                f"plugin '{self._plugin}' adds command '{name}', which '{owner}' already "
                "provides; rename one of them"
            )
        self._origin[name] = self._plugin
        self._cli.add_command(cmd, name)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        def decorator(f: Any) -> Any:
            import click

            cmd = click.command(*args, **kwargs)(f)
            self.add_command(cmd)
            return cmd

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Any:
        def decorator(f: Any) -> Any:
            import click

            grp = click.group(*args, **kwargs)(f)
            self.add_command(grp)
            return grp

        return decorator

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._cli, attr)
