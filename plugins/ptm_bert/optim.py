"""The optimizer both training loops use (fine-tuning and pretraining)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def adamw(parameters: Iterable[Any], *, lr: float, weight_decay: float) -> Any:
    """``torch.optim.AdamW`` with PyTorch's fused kernel wherever the parameters' device has one.

    The fused kernel updates every weight in one pass instead of a chain of tensor operations
    per weight: the same update (bit for bit on CPU in our measurement), about 5x faster per step
    for MiniLM's 22M weights on one CPU core, where the unfused step took over half of a
    fine-tuning step. Devices or dtypes without it (torch refuses at construction) get the
    default implementation.
    """
    import torch

    parameters = list(parameters)
    try:
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
