"""Bad-input cases: data (see tests/catalogue.py)."""

from __future__ import annotations

from pathlib import Path

from catalogue import Case


def prepare(root: Path) -> None:
    """Write this part's broken files under ``root`` (the world of tests/test_bad_inputs.py,
    which already holds ``data/`` and a finished tiny-bert run ``run/``)."""


def cases(root: Path) -> dict[str, Case]:
    return {}
