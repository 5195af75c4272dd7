"""The hyper-parameters of a pretraining run (``ptm pretrain``'s options) and their checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConfigError

TOKENIZERS = ("bert-uncased", "train")


@dataclass
class PretrainConfig:
    """Hyper-parameters of one pretraining run (``steps`` wins over ``epochs``; 1 epoch if neither)."""

    steps: int | None = None
    epochs: int | None = None
    mlm_probability: float = 0.15
    max_length: int = 64
    # Measured on SST-2 phrases (NOTES.md, session 4): at batch 32 a small BERT stayed on the
    # unigram plateau (held-out loss ~7.0, the same guess for every [MASK]) for 4,000 steps;
    # at batch 128 it left it within a few hundred. Small BERTs also take a higher rate than
    # BERT-base's 1e-4 (Turc et al. 2019).
    batch_size: int = 128
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 42
    tokenizer: str = "bert-uncased"
    vocab_size: int = 8000
    held_out: float = 0.05
    evaluations: int = 10
    # Dropout while pretraining; the saved config keeps the model's own for fine-tuning. A
    # short budget that sees most text about once does not overfit, and without dropout it
    # learns faster (Geiping & Goldstein 2022, "Cramming").
    dropout: float = 0.0
    progress: bool = True

    def check(self, max_positions: int | None = None) -> None:
        """Refuse values out of range; ``max_positions`` (the model's limit, once it is built)
        bounds ``max_length``."""
        for name in ("steps", "epochs", "max_length", "batch_size", "vocab_size", "evaluations"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("give --steps or --epochs, not both")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"--mlm-probability must be between 0 and 1, got {self.mlm_probability}; BERT uses 0.15")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}; try 1e-3")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.held_out < 1:
            raise ConfigError(f"held_out must be a share between 0 and 1, got {self.held_out}")
        if self.max_length < 8:
            raise ConfigError(f"--max-length {self.max_length} is too short to mask anything; try 64")
        if max_positions is not None and self.max_length > max_positions:
            raise ConfigError(f"--max-length {self.max_length} exceeds the model's limit of {max_positions} tokens")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"--tokenizer must be one of {', '.join(TOKENIZERS)}, got '{self.tokenizer}'")


def as_config(options: dict[str, Any]) -> PretrainConfig:
    """A :class:`PretrainConfig` from options; ``None`` means "the default"."""
    from ptm_bert.trainer import config_from

    return config_from(PretrainConfig, {k: v for k, v in options.items() if v is not None}, "pretraining")
