"""Progress bars that a user can switch off two ways: ``--quiet`` and tqdm's ``TQDM_DISABLE=1``."""

from __future__ import annotations

from typing import Any


def bar_options(progress: bool) -> dict[str, Any]:
    """tqdm keyword arguments for a bar shown when ``progress`` is true.

    ``disable`` is only ever passed as True: tqdm reads ``TQDM_DISABLE`` from the environment
    only for arguments not passed, so ``disable=False`` would overrule it.
    """
    return {"leave": False} if progress else {"leave": False, "disable": True}
