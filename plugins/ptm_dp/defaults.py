"""Training defaults under DP-SGD (imported at registration, so kept free of heavy imports)."""

from __future__ import annotations

from typing import Any

# Hyper-parameters that make DP-SGD work on a pretrained BERT with little data (Li et al. 2022;
# Yu et al. 2021): few trained parameters on good features, large batches, more epochs and a
# higher learning rate than non-private fine-tuning. Chosen with benchmarks/privacy_defaults.py.
DP_DEFAULTS: dict[str, Any] = {
    "trainable": "head",
    "batch_size": 256,
    "epochs": 10,
    "lr": 5e-3,
    "warmup_ratio": 0.0,
    "max_length": 64,
    "micro_batch_size": 64,
}
