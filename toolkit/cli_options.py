"""Options that several ``ptm`` commands share, and the reading of ``NAME=VALUE`` options.

An option that goes to a plugin's record (a privacy mechanism, an explainer) is a
:class:`DeclaredOption`: its help ends with what the registered records declare for it
(:class:`toolkit.registry.Option`), so no command copies a plugin's choices; the record checks
the value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from toolkit.cli_errors import PtmUsageError
from toolkit.cli_groups import PtmGroup

data_column_options = [
    click.option("--text-column", default=None, help="Name of the text column of a data file."),
    click.option("--label-column", default=None, help="Name of the label column of a data file."),
]


pair_option = click.option(
    "--pair", "pairs", multiple=True,
    help="The second text of a sentence pair, once per TEXT in order (tasks with two inputs).",
)


def with_options(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Apply several click options at once, in the order listed."""
    def decorate(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def option_value(raw: str) -> Any:
    """``16`` -> 16, ``0.01`` -> 0.01, ``true`` -> True, anything else stays a string."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, (int, float, bool)) else raw


def parse_options(values: tuple[str, ...], *, scoped: bool = False) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs as a dict; with ``scoped`` they read ``METHOD.NAME=VALUE``
    and come back as ``{method: {name: value}}``. Dashes in names become underscores."""
    out: dict[str, Any] = {}
    example = "ig.n_steps=16" if scoped else "n_steps=16"
    for item in values:
        key, sep, raw = item.partition("=")
        method, dot, name = key.strip().rpartition(".") if scoped else ("", "", key.strip())
        name = name.replace("-", "_")
        if not sep or not name or (scoped and not (dot and method)):
            form = "METHOD.NAME=VALUE" if scoped else "NAME=VALUE"
            raise PtmUsageError(f"--option '{item}' is not {form}; write e.g. --option {example}")
        table = out.setdefault(method, {}) if scoped else out
        if name in table:
            raise PtmUsageError(f"--option {method}{dot}{name} is given twice; give it once")
        table[name] = option_value(raw.strip())
    return out


class DeclaredOption(click.Option):
    """An option that goes to a plugin's record (``records``: a record type such as
    :class:`~toolkit.registry.PrivacySpec`). Its help ends with what the registered records
    declare for it (:func:`declared_help`).

    Args:
        records: the type of the records that take the option.
        declared: the option's name in the records; by default the option's own name, and ""
            for an option that takes any of them (``--option NAME=VALUE``), whose help lists
            the names each record takes.
        takers: name every record that takes the option, also one that declares no choices
            or default for it (which methods take ``--delta-tolerance``).
    """

    def __init__(self, *args: Any, records: type, declared: str | None = None, takers: bool = False,
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.records = records
        self.declared = (self.name or "") if declared is None else declared
        self.takers = takers

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        static = self.help
        try:
            self.help = f"{static}  {declared_help(ctx, self.records, self.declared, takers=self.takers)}".rstrip()
        except Exception:  # noqa: BLE001 - help never fails for a broken plugin: keep the plain text
            self.help = static
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = static


def declared_help(ctx: click.Context, records: type, name: str, *, takers: bool = False) -> str:
    """``[dp-sgd: rdp, prv or gdp; default rdp]``: option ``name`` as each record of type
    ``records`` declares it (with ``takers``, also ``[ig]`` for a record that declares it with
    no choices or default); with no name, the options each one takes."""
    root = ctx.find_root().command
    if not isinstance(root, PtmGroup):
        return ""
    parts = []
    for record in root.plugin_manager().registry.records(records):
        declared = record.options or {}
        if not name and declared:
            parts.append(f"{record.id}: {', '.join(declared)}")
        elif name in declared and declared[name].describe():
            parts.append(f"{record.id}: {declared[name].describe()}")
        elif name in declared and takers:
            parts.append(record.id)
    return f"[{'; '.join(parts)}]" if parts else ""
