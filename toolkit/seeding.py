"""One seed for everything a run draws at random, set before the model is built.

A classification head is initialised when the model loads, dropout masks and batch order are
drawn while it trains: the seed has to be in place before the first of these, or two runs with
the same ``--seed`` start from different heads.

What this makes repeatable, and what it cannot (docs/scale.md, "Repeating a run"): on the CPU, the same
seed, data, settings, torch build and thread count give the same step losses, metrics and
weights, bit for bit. A different number of threads can change the order of float sums (the
last digits of a loss); on a GPU, cuDNN/cuBLAS pick kernels whose reductions are not ordered,
so GPU runs agree closely but not exactly.
"""

from __future__ import annotations

import random


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) global random generators.

    What ``transformers.set_seed`` does, which the trainer plugin uses; the core knows no
    transformers, so it seeds the three itself."""
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
