"""Token attributions for a BERT-style sequence classifier, through Captum.

Every explainer here follows one recipe, so their results can be compared side by side:

1. tokenize each sentence once (a fast tokenizer gives the word of every piece);
2. one batched forward pass gives every sentence's logits: the predicted class (the default
   target) and its probability come from it, and so does the convergence delta of integrated
   gradients (no extra forward passes per sentence);
3. Captum attributes the target logit to each token;
4. pieces are summed back into words (:func:`toolkit.explanations.words_from_pieces`).

Gradient methods (integrated gradients, saliency, input x gradient) work on the output of
the word-embedding layer; perturbation methods (occlusion, KernelSHAP) remove whole words,
replacing their pieces with the baseline token, and never touch [CLS] and [SEP].
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConfigError, PtmWarning
from toolkit.explanations import Explanation, words_from_pieces

BASELINES = ("pad", "mask", "zero")
MAX_STEPS = 1024
# With a delta tolerance, integrated gradients starts here and doubles the steps per sentence.
FIRST_STEPS = 8
# A delta above this share of |f(input) - f(baseline)| gets a warning.
DELTA_WARN_SHARE = 0.1


@dataclass
class _Encoded:
    """One sentence, tokenized once."""

    text: str
    input_ids: Any  # (1, length) LongTensor on the model's device
    word_ids: list[int | None]
    offsets: list[tuple[int, int]]

    @property
    def special(self) -> list[bool]:
        return [w is None for w in self.word_ids]


class TokenExplainer:
    """Base of the built-in explainers: encoding, the shared forward pass, word grouping.

    Subclasses set ``method`` and implement :meth:`_attribute` (one sentence, a target) and may
    take options of their own; unknown options are refused with a one-line error.
    """

    method = "base"
    option_names: tuple[str, ...] = ()

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 128, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            allowed = ", ".join(self.option_names) or "none"
            raise ConfigError(
                f"explainer '{self.method}' has no option {', '.join(unknown)} (options: {allowed})"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError("explanations need a fast (Rust) tokenizer to map pieces back to words")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = min(max_length, int(model.config.max_position_embeddings))
        self.device = next(model.parameters()).device
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    # -- the shared steps -------------------------------------------------------------------

    def encode(self, text: str) -> _Encoded:
        enc = self.tokenizer(
            text, truncation=True, max_length=self.max_length, return_offsets_mapping=True
        )
        return _Encoded(
            text=text,
            input_ids=_long([enc["input_ids"]], self.device),
            word_ids=enc.word_ids(),
            offsets=[tuple(o) for o in enc["offset_mapping"]],
        )

    def logits(self, batch_ids: Sequence[Any]) -> Any:
        """Logits of several (1, length) id tensors in one padded forward pass."""
        import torch

        length = max(ids.shape[1] for ids in batch_ids)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(batch_ids), length), pad, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for row, one in enumerate(batch_ids):
            ids[row, : one.shape[1]] = one[0]
            mask[row, : one.shape[1]] = 1
        with torch.inference_mode():
            return self.model(input_ids=ids, attention_mask=mask).logits.float()

    def resolve_target(self, target: int | str | None, predicted: int) -> int:
        if target is None:
            return predicted
        if isinstance(target, str) and not target.lstrip("-").isdigit():
            if target not in self.labels:
                raise ConfigError(f"target '{target}' is not a label of this model ({', '.join(self.labels)})")
            return self.labels.index(target)
        index = int(target)
        if not 0 <= index < len(self.labels):
            raise ConfigError(f"target {index} is out of range: the model has {len(self.labels)} classes")
        return index

    def explain(self, texts: Sequence[str], *, target: int | str | None = None) -> list[Explanation]:
        """One :class:`Explanation` per text; ``target`` (index or label) defaults to the prediction."""
        texts = list(texts)
        if not texts or any(not t.strip() for t in texts):
            raise ConfigError("give at least one non-empty text to explain")
        encoded = [self.encode(t) for t in texts]
        logits = self.logits([e.input_ids for e in encoded])
        probs = logits.softmax(-1)
        targets = [self.resolve_target(target, int(row.argmax())) for row in probs]
        context = self._prepare(encoded, logits, targets)
        out = []
        for i, (enc, tgt) in enumerate(zip(encoded, targets)):
            scores, delta, options = self._attribute(enc, tgt, i, context)
            words, word_scores = words_from_pieces(enc.text, enc.word_ids, enc.offsets, scores)
            out.append(
                Explanation(
                    text=enc.text,
                    method=self.method,
                    tokens=tuple(self.tokenizer.convert_ids_to_tokens(enc.input_ids[0].tolist())),
                    token_ids=tuple(enc.input_ids[0].tolist()),
                    attributions=tuple(float(s) for s in scores),
                    word_ids=tuple(enc.word_ids),
                    words=words,
                    word_attributions=word_scores,
                    target=tgt,
                    target_label=self.labels[tgt],
                    probability=float(probs[i, tgt]),
                    delta=delta,
                    options=options,
                )
            )
        return out

    def _prepare(self, encoded: list[_Encoded], logits: Any, targets: list[int]) -> Any:
        """Work shared by all sentences (batched), before the per-sentence attributions."""
        return None

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------------

    def baseline_ids(self, enc: _Encoded, kind: str) -> Any:
        """The sentence with every piece but [CLS]/[SEP] replaced by [PAD] or [MASK]."""
        import torch

        token = self.tokenizer.pad_token_id if kind == "pad" else self.tokenizer.mask_token_id
        special = torch.tensor([enc.special], device=self.device)
        return torch.where(special, enc.input_ids, torch.full_like(enc.input_ids, token))

    def embeddings_forward(self, mask: Any) -> Any:
        def forward(embeds: Any) -> Any:
            return self.model(inputs_embeds=embeds, attention_mask=mask.expand(embeds.shape[0], -1)).logits

        return forward


def _long(rows: list[list[int]], device: Any) -> Any:
    import torch

    return torch.tensor(rows, dtype=torch.long, device=device)


def _ones(ids: Any) -> Any:
    """An attention mask for one unpadded sentence."""
    import torch

    return torch.ones_like(ids)


def _check_baseline(baseline: str) -> str:
    if baseline not in BASELINES:
        raise ConfigError(f"baseline '{baseline}' is not one of {', '.join(BASELINES)}")
    return baseline


class IntegratedGradientsExplainer(TokenExplainer):
    """Integrated gradients (Sundararajan et al. 2017) on the word-embedding layer.

    Options: ``baseline`` (pad, mask or zero embedding), ``n_steps`` (50), ``method``
    (Captum's integration rule, gausslegendre), ``delta_tolerance`` (steps double per sentence,
    from 8 or the given ``n_steps``, until |delta| is under it), ``internal_batch_size``.
    """

    method = "ig"
    option_names = ("baseline", "n_steps", "delta_tolerance", "method", "internal_batch_size")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        baseline: str = "pad",
        n_steps: int | None = None,
        delta_tolerance: float | None = None,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, tokenizer, **options)
        self.baseline = _check_baseline(baseline)
        if n_steps is not None and n_steps < 2:
            raise ConfigError(f"--n-steps must be at least 2, got {n_steps}")
        if delta_tolerance is not None and delta_tolerance <= 0:
            raise ConfigError(f"--delta-tolerance must be positive, got {delta_tolerance}")
        self.tolerance = delta_tolerance
        self.n_steps = n_steps if n_steps is not None else (FIRST_STEPS if delta_tolerance else 50)
        self.rule = method
        self.internal_batch_size = internal_batch_size

    def _prepare(self, encoded: list[_Encoded], logits: Any, targets: list[int]) -> Any:
        import torch

        # f(baseline) for every sentence in one batched pass: with f(input) from the shared
        # forward pass, the convergence delta needs no further forward passes.
        if self.baseline == "zero":
            with torch.inference_mode():
                base = [self._zero_logits(e) for e in encoded]
            base_logits = torch.cat(base)
        else:
            base_logits = self.logits([self.baseline_ids(e, self.baseline) for e in encoded])
        rows = torch.arange(len(targets))
        index = torch.tensor(targets)
        return (logits[rows, index] - base_logits[rows, index]).tolist()

    def _zero_logits(self, enc: _Encoded) -> Any:
        _, base = self._zero_pair(enc)
        return self.model(inputs_embeds=base, attention_mask=_ones(enc.input_ids)).logits.float()

    def _zero_pair(self, enc: _Encoded) -> tuple[Any, Any]:
        import torch

        embeds = self.model.get_input_embeddings()(enc.input_ids)
        keep = torch.tensor(enc.special, device=self.device)[None, :, None]
        return embeds, torch.where(keep, embeds, torch.zeros_like(embeds))

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        gap = context[index]  # f(input) - f(baseline) for the target logit
        steps = self.n_steps
        while True:
            scores = self._integrate(enc, target, steps)
            delta = float(sum(scores) - gap)
            if self.tolerance is None or abs(delta) < self.tolerance or steps >= MAX_STEPS:
                break
            steps = min(steps * 2, MAX_STEPS)
        if self.tolerance is not None and abs(delta) >= self.tolerance:
            warnings.warn(
                f"'{enc.text[:40]}': |delta| {abs(delta):.3g} is still above {self.tolerance} "
                f"at {steps} steps",
                PtmWarning,
                stacklevel=2,
            )
        elif self.tolerance is None and abs(delta) > DELTA_WARN_SHARE * abs(gap):
            warnings.warn(
                f"'{enc.text[:40]}': convergence delta {delta:.3g} is {abs(delta) / max(abs(gap), 1e-12):.0%} "
                f"of the logit difference {gap:.3g}; raise --n-steps or set --delta-tolerance",
                PtmWarning,
                stacklevel=2,
            )
        options = {"baseline": self.baseline, "n_steps": steps, "integration": self.rule}
        if self.tolerance is not None:
            options["delta_tolerance"] = self.tolerance
        return scores, delta, options

    def _integrate(self, enc: _Encoded, target: int, steps: int) -> list[float]:
        import torch
        from captum.attr import IntegratedGradients, LayerIntegratedGradients

        mask = _ones(enc.input_ids)
        if self.baseline == "zero":
            # A zero word embedding is not the embedding of any token, so integrate over the
            # embedding layer's output directly: the same path LayerIntegratedGradients takes.
            embeds, base = self._zero_pair(enc)
            ig = IntegratedGradients(self.embeddings_forward(mask))
            attributions = ig.attribute(
                embeds.detach(),
                baselines=base.detach(),
                target=target,
                n_steps=steps,
                method=self.rule,
                internal_batch_size=self.internal_batch_size,
            )
        else:

            def forward(ids: Any) -> Any:
                return self.model(input_ids=ids, attention_mask=mask.expand(ids.shape[0], -1)).logits

            lig = LayerIntegratedGradients(forward, self.model.get_input_embeddings())
            attributions = lig.attribute(
                enc.input_ids,
                baselines=self.baseline_ids(enc, self.baseline),
                target=target,
                n_steps=steps,
                method=self.rule,
                internal_batch_size=self.internal_batch_size,
            )
        return attributions.sum(-1)[0].detach().float().cpu().tolist()


class SaliencyExplainer(TokenExplainer):
    """Saliency (Simonyan et al. 2014): the L2 norm of the gradient at each token's embedding.

    Unsigned: it says how sensitive the target logit is to a token, not in which direction.
    """

    method = "saliency"

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        from captum.attr import Saliency

        embeds = self.model.get_input_embeddings()(enc.input_ids).detach()
        grads = Saliency(self.embeddings_forward(_ones(enc.input_ids))).attribute(
            embeds, target=target, abs=False
        )
        return grads[0].norm(dim=-1).cpu().tolist(), None, {}


class InputXGradientExplainer(TokenExplainer):
    """Input x gradient (Shrikumar et al. 2016) on the word embeddings, summed over dimensions."""

    method = "input-x-gradient"

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        from captum.attr import InputXGradient

        embeds = self.model.get_input_embeddings()(enc.input_ids).detach()
        scores = InputXGradient(self.embeddings_forward(_ones(enc.input_ids))).attribute(
            embeds, target=target
        )
        return scores.sum(-1)[0].detach().cpu().tolist(), None, {}


class _WordPerturbation(TokenExplainer):
    """Shared by the perturbation methods: words are the features, [CLS]/[SEP] stay put."""

    option_names = ("baseline",)

    def __init__(self, model: Any, tokenizer: Any, *, baseline: str = "pad", **options: Any) -> None:
        super().__init__(model, tokenizer, **options)
        if baseline == "zero":
            raise ConfigError(f"'{self.method}' removes words by token; use --baseline pad or mask")
        self.baseline = _check_baseline(baseline)

    def _inner(self, enc: _Encoded) -> tuple[Any, Any, Any]:
        """The pieces between [CLS] and [SEP], their word index as feature mask, and the baseline."""
        import torch

        inner = [i for i, s in enumerate(enc.special) if not s]
        ids = enc.input_ids[:, inner]
        words = sorted({enc.word_ids[i] for i in inner})
        rank = {w: r for r, w in enumerate(words)}
        feature_mask = torch.tensor([[rank[enc.word_ids[i]] for i in inner]], device=self.device)
        token = self.tokenizer.pad_token_id if self.baseline == "pad" else self.tokenizer.mask_token_id
        return ids, feature_mask, torch.full_like(ids, token)

    def _wrap_forward(self, enc: _Encoded) -> Any:
        import torch

        first = enc.input_ids[:, :1]
        last = enc.input_ids[:, -1:]

        def forward(inner: Any) -> Any:
            n = inner.shape[0]
            ids = torch.cat([first.expand(n, -1), inner, last.expand(n, -1)], dim=1)
            with torch.no_grad():
                return self.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.float()

        return forward

    def _spread(self, enc: _Encoded, per_piece: Any, feature_mask: Any) -> list[float]:
        """Captum gives each piece its word's score; split it so pieces sum to the word."""
        counts = feature_mask[0].bincount()
        shares = (per_piece[0] / counts[feature_mask[0]]).tolist()
        out, inner = [], iter(shares)
        for special in enc.special:
            out.append(0.0 if special else next(inner))
        return out


class OcclusionExplainer(_WordPerturbation):
    """Word occlusion (feature ablation): the drop in the target logit when a word is removed."""

    method = "occlusion"

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        from captum.attr import FeatureAblation

        ids, feature_mask, base = self._inner(enc)
        if ids.shape[1] == 0:
            return [0.0] * len(enc.special), None, {"baseline": self.baseline}
        scores = FeatureAblation(self._wrap_forward(enc)).attribute(
            ids,
            baselines=base,
            target=target,
            feature_mask=feature_mask,
            perturbations_per_eval=int(feature_mask.max()) + 1,
        )
        return self._spread(enc, scores.float(), feature_mask), None, {"baseline": self.baseline}


class KernelShapExplainer(_WordPerturbation):
    """KernelSHAP (Lundberg and Lee 2017) over words, from Captum; ``n_samples`` coalitions."""

    method = "kernel-shap"
    option_names = ("baseline", "n_samples", "seed")

    def __init__(
        self, model: Any, tokenizer: Any, *, n_samples: int = 200, seed: int = 0, **options: Any
    ) -> None:
        super().__init__(model, tokenizer, **options)
        if n_samples < 2:
            raise ConfigError(f"--n-samples must be at least 2, got {n_samples}")
        self.n_samples = n_samples
        self.seed = seed

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        import torch
        from captum.attr import KernelShap

        ids, feature_mask, base = self._inner(enc)
        options = {"baseline": self.baseline, "n_samples": self.n_samples, "seed": self.seed}
        if ids.shape[1] == 0:
            return [0.0] * len(enc.special), None, options
        torch.manual_seed(self.seed + index)  # the coalitions Captum samples
        scores = KernelShap(self._wrap_forward(enc)).attribute(
            ids,
            baselines=base,
            target=target,
            feature_mask=feature_mask,
            n_samples=self.n_samples,
            perturbations_per_eval=min(self.n_samples, 64),
        )
        return self._spread(enc, scores.float(), feature_mask), None, options


def steps_summary(explanations: Sequence[Explanation]) -> str:
    """'8 steps: 5 sentences, 16 steps: 2' for integrated gradients runs."""
    counts: dict[int, int] = {}
    for e in explanations:
        if "n_steps" in e.options:
            counts[e.options["n_steps"]] = counts.get(e.options["n_steps"], 0) + 1
    return ", ".join(
        f"{n} steps: {c} sentence{'s' if c != 1 else ''}" for n, c in sorted(counts.items())
    )


def largest_delta(explanations: Sequence[Explanation]) -> float:
    deltas = [abs(e.delta) for e in explanations if e.delta is not None]
    return max(deltas) if deltas else math.nan
