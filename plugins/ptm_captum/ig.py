"""Integrated gradients for a BERT classifier, through Captum's LayerIntegratedGradients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TokenAttribution:
    """One sentence's attributions: a score per WordPiece token, for one target class."""

    tokens: list[str]
    attributions: list[float]
    target: int
    probability: float
    delta: float
    method: str = "ig"


def attribute_tokens(
    model: Any, tokenizer: Any, text: str, *, target: int | None = None, n_steps: int = 50
) -> TokenAttribution:
    """Attribute the model's logit for ``target`` (default: the predicted class) to each token.

    The baseline keeps [CLS] and [SEP] and replaces every other token by [PAD]. By the
    completeness axiom, the attributions sum to logit(input) - logit(baseline), up to
    ``delta``, the convergence error Captum reports.
    """
    import torch
    from captum.attr import LayerIntegratedGradients

    model.eval()
    device = next(model.parameters()).device
    encoded = tokenizer(text, return_tensors="pt", truncation=True).to(device)
    input_ids = encoded["input_ids"]
    special = torch.tensor(
        [[tok in (tokenizer.cls_token_id, tokenizer.sep_token_id) for tok in input_ids[0].tolist()]],
        device=device,
    )
    baseline = torch.where(special, input_ids, torch.full_like(input_ids, tokenizer.pad_token_id))

    def forward(ids: torch.Tensor) -> torch.Tensor:
        mask = encoded["attention_mask"].expand(ids.shape[0], -1)
        return model(input_ids=ids, attention_mask=mask).logits

    with torch.no_grad():
        probs = forward(input_ids).softmax(-1)[0]
    target = int(probs.argmax()) if target is None else int(target)
    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    attributions, delta = lig.attribute(
        input_ids,
        baselines=baseline,
        target=target,
        n_steps=n_steps,
        return_convergence_delta=True,
    )
    scores = attributions.sum(-1)[0].detach().cpu().tolist()
    return TokenAttribution(
        tokens=tokenizer.convert_ids_to_tokens(input_ids[0].tolist()),
        attributions=scores,
        target=target,
        probability=float(probs[target]),
        delta=float(delta.abs().max()),
    )
