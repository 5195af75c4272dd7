"""Helpers for plugins that tokenize with a Hugging Face tokenizer."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from toolkit.errors import PtmWarning


def warn_truncated(tokenizer: Any, texts: Sequence[str], pairs: Sequence[str | None] | None,
                   ids: Sequence[Sequence[int]], max_length: int, limit: int) -> None:
    """Warn, once per call, when texts were cut to ``max_length`` tokens (a 10,000-word text
    is read only as far as the model can see, not refused)."""
    full = [i for i, row in enumerate(ids) if len(row) >= max_length]
    if not full:
        return
    # Only texts that filled max_length can have been cut: count their real length.
    lengths = {
        i: len(tokenizer(texts[i], pairs[i] if pairs else None, truncation=False, verbose=False)["input_ids"])
        for i in full
    }
    cut = {i: n for i, n in lengths.items() if n > max_length}
    if not cut:
        return
    longest = max(cut, key=cut.get)
    room = f" (training takes --max-length up to {limit})" if max_length < limit else ""
    warnings.warn(
        f"{len(cut)} of {len(texts)} texts are longer than {max_length} tokens (the longest, "
        f"'{texts[longest][:30]}...', has {cut[longest]:,}): the model reads only the first "
        f"{max_length}{room}",
        PtmWarning,
        stacklevel=3,
    )
