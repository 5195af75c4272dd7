"""The shape of a bad-input case, shared by tests/test_bad_inputs.py and the catalogue's parts
(``catalogue_*.py``): each part writes its broken files into the test's world and returns its
cases by name."""

from __future__ import annotations

from dataclasses import dataclass, field

# A place no one may write, root included (CI runs as root, so a chmod-ed folder would not do).
UNWRITABLE = "/sys/ptm-unwritable"


@dataclass
class Case:
    """One ``ptm`` command line and the words its one-line error must hold.

    ``env`` is set for the call; ``plugin`` is registered on the manager as ``tp-raises``;
    ``stdin`` is what the command reads."""

    args: list[str]
    message: str
    env: dict[str, str] = field(default_factory=dict)
    plugin: object | None = None
    stdin: str | None = None
