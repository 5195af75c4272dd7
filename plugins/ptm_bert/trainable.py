"""Which parameters a fine-tuning run trains: everything, the head, the top layers, or LoRA.

Under DP-SGD the noise multiplier sigma depends only on epsilon, delta, the sample rate and the
number of steps, not on the model. What grows with the number d of trained parameters is the
noise vector: each step adds N(0, sigma^2 C^2) to every one of the d coordinates, so its norm is
about sigma * C * sqrt(d), while each example's clipped gradient has norm at most C whatever d
is. Training fewer parameters on good pretrained features therefore keeps more signal per unit
of noise, which is why it is the usual remedy (Tramer & Boneh 2021; Yu et al. 2021), though Li
et al. (2022) show that all parameters can train well too when the hyper-parameters suit DP.
The strategies here are the ones the privacy lesson compares:

- ``all``: every parameter (the usual fine-tuning);
- ``head``: the pooler and the classifier only (a probe on frozen features);
- ``topN`` (``top1``, ``top2``, ...): the last N encoder layers, the pooler and the classifier;
- ``lora``: rank-8 LoRA adapters on the attention queries and values, through peft, plus the
  pooler and the classifier (Hu et al. 2021).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from toolkit.errors import ConfigError

STRATEGIES = ("all", "head", "topN", "lora")
HEAD_MODULES = ("pooler", "classifier")
LORA_RANK = 8


def check_strategy(how: str, num_layers: int) -> None:
    """Raise a one-line error if ``how`` is not a strategy this model supports."""
    if how in ("all", "head", "lora"):
        return
    match = re.fullmatch(r"top(\d+)", how)
    if not match:
        raise ConfigError(f"unknown --trainable '{how}'; use all, head, lora or topN (e.g. top2)")
    n = int(match.group(1))
    if not 1 <= n <= num_layers:
        raise ConfigError(f"--trainable {how}: the model has {num_layers} layers; use top1..top{num_layers}")


def _is_head(name: str) -> bool:
    return any(part in HEAD_MODULES for part in name.split("."))


def apply(model: Any, how: str) -> Any:
    """Set ``requires_grad`` for strategy ``how``; return the model to train (LoRA wraps it)."""
    layers = model.config.num_hidden_layers
    check_strategy(how, layers)
    if how == "lora":
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=LORA_RANK,
            lora_alpha=2 * LORA_RANK,
            lora_dropout=0.0,
            target_modules=["query", "value"],
            modules_to_save=list(HEAD_MODULES),
        )
        with warnings.catch_warnings():
            # peft asks transformers 5 a question under its 4.x name; nothing for a user to do.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, config)
    if how == "all":
        keep = lambda name: True  # noqa: E731
    elif how == "head":
        keep = _is_head
    else:
        first = layers - int(how[3:])
        top = re.compile(r"encoder\.layer\.(\d+)\.")

        def keep(name: str) -> bool:
            found = top.search(name)
            return _is_head(name) or (found is not None and int(found.group(1)) >= first)

    for name, parameter in model.named_parameters():
        parameter.requires_grad_(keep(name))
    return model


def count(model: Any) -> dict[str, Any]:
    """Trained and total parameters, for metrics.json and the lesson's table."""
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trained, "total_parameters": total}


def merged(model: Any) -> Any:
    """A plain transformers model to save: LoRA adapters merged into the weights."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model
