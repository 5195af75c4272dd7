"""The parts of a BERT model, in the order the model-randomisation check re-initialises them.

The core's :func:`toolkit.faithfulness.cascading_randomization` knows no BERT: it asks the model
record's ``layers`` (this module's :func:`bert_layers`) for the stages, seeds torch's generator
before each one, and calls the stage's ``reinitialise()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def bert_layers(model: Any) -> list[tuple[str, Callable[[], None]]] | None:
    """A BERT classifier's parts, head first: ``"classifier+pooler"`` (``"classifier"`` without
    a pooler), each encoder layer from last to first (``"layer.<i>"``), then ``"embeddings"``;
    ``None`` for a model that is not a BERT-like classifier (``base_model.encoder.layer``,
    ``base_model.embeddings``, ``classifier``)."""
    base = getattr(model, "base_model", None)
    encoder = getattr(base, "encoder", None)
    if (getattr(encoder, "layer", None) is None or getattr(base, "embeddings", None) is None
            or getattr(model, "classifier", None) is None or not hasattr(model, "_init_weights")):
        return None
    pooler = getattr(base, "pooler", None)
    head = [model.classifier, *([pooler] if pooler is not None else [])]
    return [
        ("classifier+pooler" if pooler is not None else "classifier", _reinitialise(model, head)),
        *[(f"layer.{i}", _reinitialise(model, [layer])) for i, layer in reversed(list(enumerate(encoder.layer)))],
        ("embeddings", _reinitialise(model, [base.embeddings])),
    ]


def _reinitialise(model: Any, modules: list[Any]) -> Callable[[], None]:
    """Draw the weights of ``modules`` again with the model's own ``_init_weights``."""

    def reinitialise() -> None:
        for module in modules:
            _forget_loaded_flags(module)
            module.apply(model._init_weights)

    return reinitialise


def _forget_loaded_flags(module: Any) -> None:
    """Clear transformers' "already loaded" marks, which make ``_init_weights`` skip a tensor."""
    for tensor in [*module.parameters(), *module.buffers()]:
        if getattr(tensor, "_is_hf_initialized", False):
            del tensor._is_hf_initialized
    for sub in module.modules():
        if getattr(sub, "_is_hf_initialized", False):
            del sub._is_hf_initialized
