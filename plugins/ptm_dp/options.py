"""Options: those the ``dp-sgd`` record declares (what ``ptm train --privacy dp-sgd`` takes),
and the privacy commands' own, read before any work: comma lists and the files a command
writes, each refused in one line (the problem; the fix)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ptm_dp.dpsgd import ACCOUNTANTS, DEFAULT_GRAD_SAMPLE_MODE, GHOST_ABOVE_PARAMETERS, GRAD_SAMPLE_MODES
from toolkit.errors import ConfigError
from toolkit.registry import Option

T = TypeVar("T")

DP_SGD_OPTIONS: dict[str, Option] = {
    "epsilon": Option(help="the privacy budget for the whole run; inf trains without noise", type=float),
    "delta": Option(help="the probability the guarantee may fail", type=float,
                    default="1/(10 N) for N training examples"),
    "max_grad_norm": Option(help="each example's gradient is clipped to this norm", type=float, default="1.0"),
    "accountant": Option(help="how the epsilon spent is added up (Opacus' accountants)", type=str,
                         choices=tuple(ACCOUNTANTS), default="rdp"),
    "grad_sample_mode": Option(
        help="Opacus' per-example gradient engine", type=str, choices=GRAD_SAMPLE_MODES,
        default=f"{DEFAULT_GRAD_SAMPLE_MODE}: ghost clipping when over "
                f"{GHOST_ABOVE_PARAMETERS / 1e6:g}M parameters or an embedding table train, else hooks"),
}
"""What ``make_dp_sgd`` takes: the ``dp-sgd`` record declares these, so the core checks them
and ``ptm train --help`` shows them (``--privacy-option accountant=prv``)."""


def comma_list(option: str, text: str, parse: Callable[[str], T], *, item: str, example: str) -> list[T]:
    """``"a,b"`` -> ``[parse("a"), parse("b")]`` in the order given (empty items skipped).

    An item given twice is refused naming it, compared as parsed: ``8`` and ``8.0`` are the
    same epsilon, so a sweep would train the same run twice and a table would show it twice.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ConfigError(f"{option} is empty; write e.g. {option} {example}")
    seen: dict[T, str] = {}
    values = []
    for part in parts:
        value = parse(part)
        if value in seen:
            also = f" (as {seen[value]})" if seen[value] != part else ""
            raise ConfigError(f"{option} lists {part} twice{also}; give each {item} once")
        seen[value] = part
        values.append(value)
    return values


def check_output_file(option: str, path: Path, *, overwrite: bool | None = None) -> None:
    """Refuse, before any work, a file a command could not write or should not replace.

    ``overwrite`` is the command's ``--overwrite`` flag; ``None`` where it has none.
    """
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name, e.g. {path / 'plot.png'}")
    if path.exists() and not overwrite:
        fix = " or pass --overwrite" if overwrite is not None else ""
        raise ConfigError(f"{path} exists; choose another {option}{fix}")
    suffix = path.suffix.lower().lstrip(".")
    if suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        if suffix not in FigureCanvasBase.get_supported_filetypes():
            raise ConfigError(f"{option} {path}: a plot cannot be written as .{suffix}; end the name in .png")
    above = next(p for p in path.parents if p.exists() or p == p.parent)
    if above.exists() and not above.is_dir():
        raise ConfigError(f"{option} {path}: {above} is a file, not a folder; choose another {option}")


def write_output(option: str, path: Path, write: Callable[[Path], object]) -> None:
    """``write(path)``, with a place that cannot be written (permissions, a full disk) as one line."""
    try:
        write(path)
    except OSError as error:
        raise ConfigError(
            f"cannot write {option} {path} ({error.strerror or error}); choose another {option}"
        ) from None
