"""The click groups ``ptm`` is built from: the root group, which owns the plugin manager and lets
plugins add commands, and a group with a default command (``ptm explain RUN_DIR TEXT``).

Plugins are loaded on demand (the first time a command or the help text needs them), never at
import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from toolkit.cli_errors import PtmUsageError, ptm_errors, show_warning
from toolkit.manager import PtmPluginManager


class PtmGroup(click.Group):
    """The root group: owns the plugin manager and lets plugins add commands."""

    def __init__(self, *args: Any, pm_factory: Callable[[], PtmPluginManager], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._pm_factory = pm_factory
        self._pm: PtmPluginManager | None = None

    def plugin_manager(self) -> PtmPluginManager:
        """The plugin manager, created (and plugin commands added) on first use."""
        if self._pm is None:
            with ptm_errors():
                self._pm = self._pm_factory()
                self._pm.hooks.register_commands(self)
        return self._pm

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.plugin_manager()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.plugin_manager()
            command = super().get_command(ctx, cmd_name)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from toolkit.registry import closest

            hint = closest(name, self.list_commands(ctx), n=1)
            suffix = f" Did you mean '{hint[0]}'?" if hint else ""
            raise PtmUsageError(f"no command '{name}'.{suffix} (ptm --help lists them)")
        return super().resolve_command(ctx, args)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # Usage errors in the root's own options (`ptm --bogus`); the subcommands' go through
        # invoke() below.
        with ptm_errors(debug="--debug" in args):
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        with ptm_errors(debug=bool(ctx.meta.get("ptm.debug"))), warnings.catch_warnings():
            warnings.showwarning = show_warning
            return super().invoke(ctx)


def plugin_manager() -> PtmPluginManager:
    """The plugin manager of the running ``ptm`` command."""
    root = click.get_current_context().find_root().command
    if not isinstance(root, PtmGroup):
        # Not the root create_cli() built: a plugin's command run on its own, or the toolkit's
        # modules loaded twice (one run as a script); a traceback would say nothing useful.
        raise PtmUsageError(
            f"'{root.name}' is not the ptm command group; run ptm commands through "
            "toolkit.cli.create_cli() or main() (python -m toolkit)"
        )
    return root.plugin_manager()


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to a default command.

    So ``ptm explain RUN_DIR TEXT...`` and ``ptm explain evaluate RUN_DIR`` both work.
    """

    def __init__(self, *args: Any, default_command: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)
