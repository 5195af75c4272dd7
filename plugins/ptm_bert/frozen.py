"""Frozen layers computed once: what the bottom of a partly trained BERT gives each example.

When training leaves the embeddings and the first k encoder layers frozen (``--trainable head``,
``topN``, and the embeddings under ``lora``), those layers map each example to the same tensor
in every epoch, provided they run without dropout. So the trainer runs them once per example,
in eval mode and without gradients, keeps their output, and trains only the top:

- ``head`` (nothing of the encoder trains): the cache is the pooled sentence vector (the masked
  mean of the last hidden states, or the [CLS] vector fed to BERT's pooler), and a step is a
  linear layer on it;
- ``topN``: the cache is the hidden states after layer L-N, and a step runs the top N layers;
- ``lora``: adapters sit in every layer, so only the embedding output is kept.

Exactness: the cached path and the full forward pass compute the same function (to float
rounding, tested to 1e-5), because frozen layers are put in eval mode in both paths (dropout
in a layer that does not train would only add noise to its output; a frozen feature extractor
runs in eval mode, as in linear probing).

Privacy: DP-SGD's guarantee is about what the *trained* parameters reveal. The frozen layers are
a fixed function chosen before training (the public pretrained weights), so computing them once
is post-processing of nothing private: each example still reaches the optimizer only through its
own clipped gradient, drawn by the same Poisson sampling, with the same noise and the same
accountant. docs/methods.md says the same for a reader of the lesson.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import OrderedDict
from typing import Any

import torch

from toolkit.errors import ConfigError

# Keep hidden states of at most this many bytes (float32); larger data trains uncached.
CACHE_LIMIT_BYTES = 2 * 1024**3
# The outputs remembered across runs of one process (the most recent first out last).
MEMO_BYTES = 1024**3
_MEMO: OrderedDict[tuple[str, str, str], list[tuple[torch.Tensor, int]]] = OrderedDict()


def _remember(key: tuple[str, str, str], outputs: list[tuple[torch.Tensor, int]]) -> None:
    _MEMO[key] = outputs
    _MEMO.move_to_end(key)
    size = lambda rows: sum(t.numel() * t.element_size() for t, _ in rows)  # noqa: E731
    while len(_MEMO) > 1 and sum(size(rows) for rows in _MEMO.values()) > MEMO_BYTES:
        _MEMO.popitem(last=False)


def _inner(model: Any) -> Any:
    """The transformers classifier inside a peft wrapper (or the model itself)."""
    base = getattr(model, "base_model", None)
    inner = getattr(base, "model", None)
    return inner if inner is not None and hasattr(inner, "config") else model


def _trains(module: Any) -> bool:
    return any(p.requires_grad for p in module.parameters())


class FrozenPrefix:
    """The frozen bottom of a BERT sequence classifier: the embeddings and layers ``< first``.

    ``first`` is the lowest encoder layer with a trained parameter (``num_layers`` when only the
    head trains). :meth:`of` returns ``None`` when nothing can be cached: the embeddings train,
    or the model is not a BERT-like sequence classifier.
    """

    def __init__(self, classifier: Any, first: int) -> None:
        self.classifier = classifier
        self.base = classifier.base_model
        self.layers = list(self.base.encoder.layer)
        self.first = first
        self.mean = getattr(classifier.config, "classifier_pooling", "cls") == "mean"

    @classmethod
    def of(cls, model: Any) -> FrozenPrefix | None:
        classifier = _inner(model)
        base = getattr(classifier, "base_model", None)
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        from transformers import BertForSequenceClassification

        # BERT's sequence classifiers only (the mean-pooled one is a subclass): other heads
        # (RoBERTa's reads the whole sequence, a tagger labels every token) pool differently.
        if not isinstance(classifier, BertForSequenceClassification) or layers is None:
            return None
        if getattr(classifier.config, "problem_type", None) not in (None, "single_label_classification"):
            return None
        if _trains(base.embeddings):
            return None
        first = next((i for i, layer in enumerate(layers) if _trains(layer)), len(layers))
        return cls(classifier, first)

    @property
    def head_only(self) -> bool:
        return self.first == len(self.layers)

    def frozen_modules(self) -> list[Any]:
        return [self.base.embeddings, *self.layers[: self.first]]

    def freeze_modes(self) -> None:
        """Put the frozen modules in eval mode (after ``model.train()``): no dropout where
        nothing trains, so their output is the same every epoch."""
        for module in self.frozen_modules():
            module.eval()

    def top(self) -> TrainedTop:
        """The trained part as a module of its own, fed the cached rows (shares the parameters)."""
        return TrainedTop(self)

    # -- the cache --------------------------------------------------------------------------

    def bytes_needed(self, lengths: list[int]) -> int:
        hidden = self.classifier.config.hidden_size
        per_example = [hidden] * len(lengths) if self.head_only else [n * hidden for n in lengths]
        return 4 * sum(per_example)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A digest of everything the frozen part computes with: its weights and buffers, where
        it stops, and how the head pools (computed once: frozen weights do not change)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{self.first}/{self.head_only}/{self.mean}/{type(self.classifier).__name__}".encode())
        for module in self.frozen_modules():
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def rows(self, features: list[dict[str, Any]], collate: Any, *, device: str, batch_size: int = 128,
             ) -> list[dict[str, Any]]:
        """The cached row of each encoded example, in order: ``cached`` (the pooled vector, or
        length x hidden states), ``length`` and ``labels``.

        The outputs are kept in memory for the process (a few data sets, see :data:`MEMO_BYTES`),
        keyed by a digest of the frozen weights and of the inputs: a lesson or a sweep that
        trains several runs on the same data computes them once.
        """
        inputs = hashlib.blake2b(digest_size=16)
        for f in features:
            inputs.update(repr([f.get(k) for k in ("input_ids", "token_type_ids", "attention_mask")]).encode())
        key = (self.fingerprint, inputs.hexdigest(), str(device))
        outputs = _MEMO.get(key)
        if outputs is None:
            outputs = self._compute(features, collate, device=device, batch_size=batch_size)
            _remember(key, outputs)
        return [{"cached": value, "length": n, "labels": f["labels"]}
                for (value, n), f in zip(outputs, features, strict=True)]

    @torch.no_grad()
    def _compute(self, features: list[dict[str, Any]], collate: Any, *, device: str, batch_size: int,
                 ) -> list[tuple[torch.Tensor, int]]:
        was_training = self.classifier.training
        self.classifier.eval()
        rows: list[tuple[torch.Tensor, int]] = [(torch.empty(0), 0)] * len(features)
        order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = collate([{k: v for k, v in features[i].items() if k != "labels"} for i in idx])
                batch = {k: v.to(device) for k, v in batch.items()}
                out = self.base(**batch, output_hidden_states=True)
                mask = batch["attention_mask"]
                if self.head_only:
                    kept = self._pool_input(out.last_hidden_state, mask)
                else:
                    kept = out.hidden_states[self.first]
                lengths = mask.sum(1).tolist()
                for j, i in enumerate(idx):
                    n = int(lengths[j])
                    value = kept[j] if self.head_only else kept[j, :n]
                    rows[i] = (value.float().cpu().clone(), n)
        finally:
            self.classifier.train(was_training)
        return rows

    def _pool_input(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the trained head reads: the masked mean, or the [CLS] vector (BERT's pooler
        then trains on it)."""
        if self.mean:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return hidden[:, 0]

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Cached rows into a batch: hidden states right-padded with zeros (masked out), an
        ``attention_mask`` of the true lengths, ``labels``."""
        lengths = torch.tensor([r["length"] for r in rows])
        longest = int(lengths.max())
        mask = (torch.arange(longest).unsqueeze(0) < lengths.unsqueeze(1)).long()
        labels = torch.tensor([r["labels"] for r in rows])
        if self.head_only:
            return {"pooled": torch.stack([r["cached"] for r in rows]), "attention_mask": mask, "labels": labels}
        hidden = torch.zeros(len(rows), longest, rows[0]["cached"].shape[-1])
        for j, r in enumerate(rows):
            hidden[j, : r["length"]] = r["cached"]
        return {"hidden": hidden, "attention_mask": mask, "labels": labels}


class TrainedTop(torch.nn.Module):
    """The part of a classifier that trains, run on cached rows: encoder layers ``first..L-1``,
    the pooling, dropout and the classifier (the same module objects as in the full model)."""

    def __init__(self, prefix: FrozenPrefix) -> None:
        super().__init__()
        classifier = prefix.classifier
        self.config = classifier.config
        self.mean = prefix.mean
        self.layers = torch.nn.ModuleList(prefix.layers[prefix.first :])
        self.pooler = None if prefix.mean else prefix.base.pooler
        self.dropout = classifier.dropout
        self.classifier = classifier.classifier
        self.head_only = prefix.head_only

    def forward(self, attention_mask: torch.Tensor, hidden: torch.Tensor | None = None,
                pooled: torch.Tensor | None = None) -> Any:
        from transformers.masking_utils import create_bidirectional_mask
        from transformers.modeling_outputs import SequenceClassifierOutput

        if pooled is None:
            if hidden is None:
                raise ConfigError("the trained top needs cached 'hidden' or 'pooled' rows")
            extended = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            for layer in self.layers:
                hidden = layer(hidden, extended)
            if self.mean:
                weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
            else:
                pooled = hidden[:, 0]
        if self.pooler is not None:
            pooled = self.pooler(pooled.unsqueeze(1))
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))


def cache_rows(prefix: FrozenPrefix, features: list[dict[str, Any]], collate: Any, *, device: str,
               ) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The cached rows of ``features`` and what metrics.json records of them; ``None`` when
    they would not fit in memory."""
    if prefix.bytes_needed([len(f["input_ids"]) for f in features]) > CACHE_LIMIT_BYTES:
        return None
    started = time.perf_counter()
    rows = prefix.rows(features, collate, device=device)
    return rows, {
        "frozen_layers": prefix.first,
        "cached": "pooled" if prefix.head_only else f"hidden states after {prefix.first} layers"
                  if prefix.first else "embeddings",
        "cache_seconds": time.perf_counter() - started,
    }
