"""``ptm plugins``: what is installed (``list``), a new plugin's skeleton (``new``) and the hooks
a plugin can implement (``hooks``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolkit.cli_errors import ptm_errors
from toolkit.cli_groups import plugin_manager


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed plugins and the hooks they can implement."""


@plugins_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def plugins_list(show_all: bool, as_json: bool) -> None:
    """List plugins: name, version, status, hooks implemented and ids contributed."""
    pm = plugin_manager()
    with ptm_errors():
        pm.registry  # noqa: B018 - builds the registry, which fills in hooks and ids
    rows = [s for s in pm.statuses.values() if show_all or not s.builtin]
    rows.sort(key=lambda s: (not s.builtin, s.name))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "distribution": s.distribution,
                        "version": s.version,
                        "builtin": s.builtin,
                        "status": s.status,
                        "hooks": s.hooks,
                        "ids": s.ids,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("No third-party plugins installed. `ptm plugins list --all` shows the built-ins.")
        return
    for s in rows:
        origin = "built-in" if s.builtin else (s.distribution or "local")
        click.echo(f"{s.name} {s.version or ''} ({origin}): {s.status}")
        if s.hooks:
            click.echo(f"  hooks: {', '.join(s.hooks)}")
        for kind, ids in sorted(s.ids.items()):
            click.echo(f"  {kind}: {', '.join(ids)}")


@plugins_group.command("new")
@click.argument("name")
@click.option("--dest", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder to create the plugin's folder in.")
def plugins_new(name: str, dest: Path) -> None:
    """Write a plugin package skeleton NAME (e.g. ptm-mydata) that installs and passes its tests."""
    from toolkit.scaffold import new_plugin, plugin_names

    with ptm_errors():
        folder = new_plugin(name, dest)
    names = plugin_names(name)
    click.echo(f"created {folder}: package {names['package']}, dataset {names['dataset']}")
    click.echo(f"next: pip install -e \"{folder}[test]\" && ptm plugins list && pytest {folder}")


@plugins_group.command("hooks")
@click.option("--markdown", is_flag=True, help="Print the full hook reference as Markdown.")
def plugins_hooks(markdown: bool) -> None:
    """List every hook a plugin can implement, with what it is for."""
    from toolkit.reference import hook_reference_markdown, hook_summaries

    if markdown:
        click.echo(hook_reference_markdown(), nl=False)
        return
    for name, summary in hook_summaries():
        click.echo(f"{name:24} {summary}")
