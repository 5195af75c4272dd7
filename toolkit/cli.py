"""The ``ptm`` command line, built by :func:`create_cli` from a plugin manager.

Plugins are loaded on demand (the first time a command or the help text needs them), never
at import, and the core imports no torch, transformers, opacus or captum here: commands that
need them import them inside their own bodies.

The command line is several modules, each one idea: errors for people
(:mod:`toolkit.cli_errors`), the groups (:mod:`toolkit.cli_groups`), shared options
(:mod:`toolkit.cli_options`), and the commands (``toolkit.commands_*``). This module builds
the ``ptm`` group from them and is what plugins import: ``plugin_manager``, ``ptm_errors``,
``DefaultCommandGroup`` and the rest stay importable from here.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from toolkit import __version__
from toolkit.cli_errors import PtmUsageError, ptm_errors
from toolkit.cli_groups import DefaultCommandGroup, PtmGroup, plugin_manager
from toolkit.cli_options import parse_options
from toolkit.commands_explain import explain_evaluate, explain_group, explain_text
from toolkit.commands_lesson import lesson_group
from toolkit.commands_plugins import plugins_group
from toolkit.commands_runs import evaluate_command, predict_command, report_command, train_command
from toolkit.manager import PtmPluginManager, create_plugin_manager

__all__ = [
    "DefaultCommandGroup", "PtmGroup", "PtmUsageError", "create_cli", "evaluate_command", "explain_evaluate",
    "explain_group", "explain_text", "lesson_group", "main", "parse_options", "plugin_manager", "plugins_group",
    "predict_command", "ptm_errors", "report_command", "train_command",
]


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["ptm.debug"] = True


def create_cli(pm: PtmPluginManager | None = None) -> PtmGroup:
    """Build the ``ptm`` command group.

    Args:
        pm: the plugin manager to use; by default one is created from the installed
            plugins the first time a command needs it.
    """

    @click.group(
        cls=PtmGroup,
        pm_factory=(lambda: pm) if pm is not None else create_plugin_manager,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(__version__, "--version", prog_name="ptm")
    @click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show full tracebacks instead of one-line errors.",
    )
    def ptm() -> None:
        """ptm-toolkit: pretrain, fine-tune, privatise and explain language models.

        Every step is a plugin; `ptm plugins list --all` shows what is installed.
        """

    ptm.add_command(plugins_group)
    for command in (train_command, evaluate_command, predict_command, explain_group, report_command, lesson_group):
        ptm.add_command(command)
    return ptm


def __getattr__(name: str) -> Any:
    """``toolkit.cli.cli``: the whole ``ptm`` command, built with the installed plugins (for
    documentation tools such as mkdocs-click; the console script builds its own)."""
    if name == "cli":
        group = create_cli()
        group.plugin_manager()  # adds the plugins' commands now, not on first listing
        return group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point for ``ptm``."""
    create_cli().main(args=argv, prog_name="ptm")


if __name__ == "__main__":  # pragma: no cover
    # `python -m toolkit.cli` runs this file as __main__, a second copy of the module beside the
    # toolkit.cli that plugins import: run the command of that one, whose classes they share.
    from toolkit.cli import main as _main

    _main(sys.argv[1:])
