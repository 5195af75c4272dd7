"""The hook reference, rendered from :mod:`toolkit.hookspecs` (never written twice)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def hook_specs() -> list[tuple[str, Callable[..., Any]]]:
    """Every ``ptm_*`` spec, in the order the contract defines them."""
    from toolkit import hookspecs

    specs = [
        (fn.__code__.co_firstlineno, name, fn)
        for name, fn in vars(hookspecs).items()
        if name.startswith("ptm_") and inspect.isfunction(fn)
    ]
    return [(name, fn) for _, name, fn in sorted(specs)]


def hook_summaries() -> list[tuple[str, str]]:
    """Each hook with the first line of its docstring."""
    return [(name, (inspect.getdoc(fn) or "").splitlines()[0]) for name, fn in hook_specs()]


def hook_reference_markdown() -> str:
    """The whole contract as Markdown: signature and docstring of every hook."""
    from toolkit import hookspecs

    parts = [
        "# Hook reference",
        "",
        "Generated from `toolkit/hookspecs.py` by `ptm plugins hooks --markdown`; do not edit.",
        "",
        inspect.getdoc(hookspecs) or "",
        "",
    ]
    for name, fn in hook_specs():
        signature = str(inspect.signature(fn)).replace("'", "")
        parts += [f"## `{name}{signature}`", "", inspect.getdoc(fn) or "", ""]
    return "\n".join(parts)
