"""Errors for people at the command line: one line on stderr and exit status 2.

:class:`ptm_errors` turns a library error (:class:`~toolkit.errors.PtmError`), one of click's
usage errors or a place the command could not use into that line; ``--debug`` (or
``PTM_DEBUG=1``) lets the traceback through instead.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import click

from toolkit.errors import PtmError

class PtmUsageError(click.ClickException):
    """A :class:`~toolkit.errors.PtmError` on its way out: one line, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"ptm: {self.format_message()}", err=True, file=file)


def show_warning(message: Any, category: type, filename: str, lineno: int,
                  file: Any = None, line: Any = None) -> None:
    """Our warnings as one line for people; everyone else's as usual."""
    import warnings

    from toolkit.errors import PtmWarning

    if issubclass(category, PtmWarning):
        click.echo(f"ptm: warning: {message}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False)


class ptm_errors:  # noqa: N801 - used as a context manager, reads like a statement
    """Turn a :class:`PtmError` into one line on stderr and exit status 2.

    With ``--debug`` (or ``PTM_DEBUG=1``) the original exception and its traceback go
    through instead.
    """

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug or os.environ.get("PTM_DEBUG", "") not in ("", "0")

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        ctx = click.get_current_context(silent=True)
        debug = self.debug or bool(ctx is not None and ctx.meta.get("ptm.debug"))
        if isinstance(exc, PtmError) and not debug:
            raise PtmUsageError(str(exc)) from exc
        if _is_usage_error(exc) and not debug:
            raise _one_line_usage(exc) from exc
        if isinstance(exc, OSError) and exc.errno in _PLACE_ERRORS and not debug:
            # The safety net for a place the command could not read or write (a folder that is a
            # file, no permission, a full disk): the path and the reason, never a traceback.
            where = exc.filename or "a file"
            raise PtmUsageError(
                f"cannot use {where} ({exc.strerror}); check the path and its permissions, or choose another"
            ) from exc
        if debug and isinstance(exc, PtmUsageError) and not getattr(exc, "_shown", False):
            # --debug: the traceback of a usage error too, then its one line and exit 2.
            import traceback

            exc._shown = True  # type: ignore[attr-defined]
            click.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
        return False


_PLACE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                 errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ENOENT, errno.ELOOP, errno.EXDEV}


def _is_usage_error(exc: BaseException | None) -> bool:
    """Click's own usage errors (a missing argument, an unknown option, a bad value), not ours
    and not the "no arguments, so here is the help" one."""
    from click.exceptions import NoArgsIsHelpError

    return (isinstance(exc, click.UsageError) and not isinstance(exc, (PtmUsageError, NoArgsIsHelpError)))


def _one_line_usage(exc: click.UsageError) -> PtmUsageError:
    """Click's three lines (Usage, Try, Error) as one: the problem, then where the help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "ptm"
    problem = " ".join(exc.format_message().split()).rstrip(".")
    problem = problem[:1].lower() + problem[1:] if problem[:2] != problem[:2].upper() else problem
    where = command.partition(" ")[2]
    fix = f" see '{command} --help'" if problem.endswith("?") else f"; see '{command} --help'"
    return PtmUsageError(f"{where + ': ' if where else ''}{problem}{fix}")

