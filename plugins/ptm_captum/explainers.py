"""Token attributions for a BERT-style sequence classifier, through Captum.

Every explainer here follows one recipe, so their results can be compared side by side:

1. tokenize each sentence once (a fast tokenizer gives the word of every piece);
2. one batched forward pass gives every sentence's logits: the predicted class (the default
   target) and its probability come from it, and so does the convergence delta of integrated
   gradients (no extra forward passes per sentence);
3. Captum attributes the target logit to each token;
4. pieces are summed back into words (:func:`toolkit.explanations.encoding_words`).

Sentence pairs (``text_pairs=``) are explained over both segments: the model sees its token
type ids, the baseline keeps [CLS] and both [SEP], and the words of the second text follow
those of the first.

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
from toolkit.explanations import Explanation, encoding_words

BASELINES = ("pad", "mask", "zero")
MAX_STEPS = 1024
# With a delta tolerance, integrated gradients starts here and raises the steps per sentence
# by GROWTH until |delta| is under it. Every raise redoes the sentence whole, so the factor
# trades wasted passes against overshoot: on 100 SST-2 dev sentences (benchmarks/explain.py,
# tolerance 0.01) 1.5 ran at 1.85x the plain Captum loop where doubling ran at 1.57x.
FIRST_STEPS = 8
GROWTH = 1.5
# Sentences of similar length integrated together; measured in benchmarks/explain.py.
GROUP_SIZE = 4
# Sentences integrated first, from FIRST_STEPS, to find where the rest start.
PILOT = 8
# A delta above this share of |f(input) - f(baseline)| gets a warning.
DELTA_WARN_SHARE = 0.1
# ... and above this in absolute terms: near a tie (logit difference ~0) any delta is a large share.
DELTA_WARN_FLOOR = 0.01


@dataclass
class _Encoded:
    """One sentence, tokenized once."""

    text: str
    text_pair: str | None
    input_ids: Any  # (1, length) LongTensor on the model's device
    token_type_ids: Any  # (1, length): 0 for the first segment, 1 for a pair's second
    word_ids: list[int | None]  # the word of each piece, numbered across both segments
    encoding: Any  # the tokenizer's encoding, for the words at the end

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

    def encode(self, text: str, text_pair: str | None = None) -> _Encoded:
        enc = self.tokenizer(
            text,
            text_pair,
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_token_type_ids=True,
        )
        if len(enc["input_ids"]) >= self.max_length:
            from toolkit.tokens import warn_truncated

            warn_truncated(self.tokenizer, [text], [text_pair] if text_pair is not None else None,
                           [enc["input_ids"]], self.max_length, int(self.model.config.max_position_embeddings))
        word_ids, _, _, _ = encoding_words(text, text_pair, enc, [0.0] * len(enc["input_ids"]))
        return _Encoded(
            text=text,
            text_pair=text_pair,
            input_ids=_long([enc["input_ids"]], self.device),
            token_type_ids=_long([enc["token_type_ids"]], self.device),
            word_ids=list(word_ids),
            encoding=enc,
        )

    def logits(self, encoded: Sequence[_Encoded]) -> Any:
        """Logits of several sentences in one padded forward pass."""
        import torch

        rows = [
            {"input_ids": e.input_ids[0].tolist(), "token_type_ids": e.token_type_ids[0].tolist()}
            for e in encoded
        ]
        batch = self.tokenizer.pad(rows, return_tensors="pt")
        with torch.inference_mode():
            return self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits.float()

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

    def explain(
        self,
        texts: Sequence[str],
        *,
        target: int | str | None = None,
        text_pairs: Sequence[str] | None = None,
    ) -> list[Explanation]:
        """One :class:`Explanation` per text; ``target`` (index or label) defaults to the
        prediction. With ``text_pairs`` each text is explained with its second text, over
        both segments."""
        texts = list(texts)
        if not texts or any(not t.strip() for t in texts):
            raise ConfigError("give at least one non-empty text to explain")
        pairs: list[str | None] = [None] * len(texts)
        if text_pairs is not None:
            pairs = list(text_pairs)
            if len(pairs) != len(texts) or any(not p.strip() for p in pairs):
                raise ConfigError(
                    f"give one non-empty second text per text ({len(texts)} texts, {len(pairs)} pairs)"
                )
        encoded = [self.encode(t, p) for t, p in zip(texts, pairs)]
        logits = self.logits(encoded)
        probs = logits.softmax(-1)
        targets = [self.resolve_target(target, int(row.argmax())) for row in probs]
        context = self._prepare(encoded, logits, targets)
        out = []
        for i, (enc, tgt) in enumerate(zip(encoded, targets)):
            scores, delta, options = self._attribute(enc, tgt, i, context)
            word_ids, words, word_scores, segments = encoding_words(enc.text, enc.text_pair, enc.encoding, scores)
            out.append(
                Explanation(
                    text=enc.text,
                    method=self.method,
                    tokens=tuple(self.tokenizer.convert_ids_to_tokens(enc.input_ids[0].tolist())),
                    token_ids=tuple(enc.input_ids[0].tolist()),
                    attributions=tuple(float(s) for s in scores),
                    word_ids=word_ids,
                    words=words,
                    word_attributions=word_scores,
                    target=tgt,
                    target_label=self.labels[tgt],
                    probability=float(probs[i, tgt]),
                    delta=delta,
                    options=options,
                    text_pair=enc.text_pair,
                    word_segments=segments,
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

    def embeddings_forward(self, embeds: Any, mask: Any, token_types: Any = None) -> Any:
        """Logits from word embeddings (the layer gradient methods differentiate at)."""
        return self.model(inputs_embeds=embeds, attention_mask=mask, token_type_ids=token_types).logits


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
    (Captum's integration rule, gausslegendre), ``delta_tolerance`` (steps grow 1.5x per
    sentence, from 8 or the given ``n_steps``, until |delta| is under it), ``group_size`` (sentences of
    similar length integrated in one Captum call), ``internal_batch_size``.

    The path is integrated with Captum's ``IntegratedGradients`` over the output of the
    word-embedding layer, which is what ``LayerIntegratedGradients`` on that layer computes
    (a test checks they agree): taking the embeddings directly spares the two full forward
    passes the layer method spends per call to read the layer's output, and lets sentences of
    similar length share one call.
    """

    method = "ig"
    option_names = ("baseline", "n_steps", "delta_tolerance", "method", "group_size", "internal_batch_size")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        baseline: str = "pad",
        n_steps: int | None = None,
        delta_tolerance: float | None = None,
        method: str = "gausslegendre",
        group_size: int = GROUP_SIZE,
        internal_batch_size: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, tokenizer, **options)
        self.baseline = _check_baseline(baseline)
        if n_steps is not None and n_steps < 2:
            raise ConfigError(f"--n-steps must be at least 2, got {n_steps}")
        if delta_tolerance is not None and delta_tolerance <= 0:
            raise ConfigError(f"--delta-tolerance must be positive, got {delta_tolerance}")
        if group_size < 1:
            raise ConfigError(f"group_size must be at least 1, got {group_size}")
        self.tolerance = delta_tolerance
        self.n_steps = n_steps if n_steps is not None else (FIRST_STEPS if delta_tolerance else 50)
        self.rule = method
        self.group_size = group_size
        self.internal_batch_size = internal_batch_size

    def _ends(self, enc: _Encoded) -> tuple[Any, Any]:
        """The sentence's word embeddings and its baseline's, shape (1, length, hidden)."""
        import torch

        embed = self.model.get_input_embeddings()
        with torch.no_grad():
            inputs = embed(enc.input_ids)
            if self.baseline == "zero":
                keep = torch.tensor(enc.special, device=self.device)[None, :, None]
                return inputs, torch.where(keep, inputs, torch.zeros_like(inputs))
            return inputs, embed(self.baseline_ids(enc, self.baseline))

    def _stack(self, encoded: list[_Encoded]) -> tuple[Any, Any, Any, Any]:
        """Inputs, baselines, attention mask and token types of several sentences, padded to
        the longest."""
        import torch

        pairs = [self._ends(e) for e in encoded]
        length = max(e.input_ids.shape[1] for e in encoded)
        hidden = pairs[0][0].shape[-1]
        inputs = torch.zeros(len(encoded), length, hidden, device=self.device)
        baselines = torch.zeros_like(inputs)
        mask = torch.zeros(len(encoded), length, dtype=torch.long, device=self.device)
        types = torch.zeros_like(mask)
        for row, (enc, (x, b)) in enumerate(zip(encoded, pairs)):
            n = enc.input_ids.shape[1]
            inputs[row, :n], baselines[row, :n], mask[row, :n] = x[0], b[0], 1
            types[row, :n] = enc.token_type_ids[0]
        return inputs, baselines, mask, types

    def _prepare(self, encoded: list[_Encoded], logits: Any, targets: list[int]) -> Any:
        import torch

        # f(input) comes from the shared forward pass and f(baseline) from one more batched
        # pass, so the convergence delta costs no forward pass per sentence.
        _, baselines, mask, types = self._stack(encoded)
        with torch.inference_mode():
            base_logits = self.embeddings_forward(baselines, mask, types).float()
        gaps = [float(logits[i, t] - base_logits[i, t]) for i, t in enumerate(targets)]

        order = sorted(range(len(encoded)), key=lambda i: encoded[i].input_ids.shape[1])
        results: dict[int, tuple[list[float], float, int]] = {}
        if self.tolerance is None or len(order) <= PILOT:
            self._integrate_until(encoded, targets, gaps, order, self.n_steps, results)
        else:
            # A pilot of sentences spread over the lengths finds the steps this model needs;
            # the rest start there instead of at 8 (every raise redoes a sentence whole).
            pilot = order[:: math.ceil(len(order) / PILOT)]
            self._integrate_until(encoded, targets, gaps, pilot, self.n_steps, results)
            needed = sorted(results[i][2] for i in pilot)
            rest = [i for i in order if i not in results]
            self._integrate_until(encoded, targets, gaps, rest, needed[len(needed) // 2], results)
        for i, enc in enumerate(encoded):
            self._warn(enc, results[i][1], gaps[i], results[i][2])
        return results

    def _integrate_until(
        self,
        encoded: list[_Encoded],
        targets: list[int],
        gaps: list[float],
        pending: list[int],
        steps: int,
        results: dict[int, tuple[list[float], float, int]],
    ) -> None:
        """Integrate the ``pending`` sentences at ``steps``, raising it for those whose |delta|
        is not under the tolerance; store (token scores, delta, steps) in ``results``."""
        from captum.attr import IntegratedGradients

        ig = IntegratedGradients(self.embeddings_forward)
        while pending:
            retry = []
            for start in range(0, len(pending), self.group_size):
                group = pending[start : start + self.group_size]
                inputs, baselines, mask, types = self._stack([encoded[i] for i in group])
                attributions = ig.attribute(
                    inputs,
                    baselines=baselines,
                    target=[targets[i] for i in group],
                    additional_forward_args=(mask, types),
                    n_steps=steps,
                    method=self.rule,
                    internal_batch_size=self.internal_batch_size,
                )
                scores = attributions.sum(-1).detach().float().cpu()
                for row, i in enumerate(group):
                    per_token = scores[row, : encoded[i].input_ids.shape[1]].tolist()
                    delta = sum(per_token) - gaps[i]
                    results[i] = (per_token, delta, steps)
                    if self.tolerance is not None and abs(delta) >= self.tolerance and steps < MAX_STEPS:
                        retry.append(i)
            pending, steps = retry, min(math.ceil(steps * GROWTH), MAX_STEPS)

    def _warn(self, enc: _Encoded, delta: float, gap: float, steps: int) -> None:
        if self.tolerance is not None:
            if abs(delta) >= self.tolerance:
                warnings.warn(
                    f"'{enc.text[:40]}': |delta| {abs(delta):.3g} is still above {self.tolerance} "
                    f"at {steps} steps",
                    PtmWarning,
                    stacklevel=4,
                )
        elif abs(delta) > max(DELTA_WARN_SHARE * abs(gap), DELTA_WARN_FLOOR):
            warnings.warn(
                f"'{enc.text[:40]}': convergence delta {delta:.3g} is "
                f"{abs(delta) / max(abs(gap), 1e-12):.0%} of the logit difference {gap:.3g}; "
                "raise --n-steps or set --delta-tolerance",
                PtmWarning,
                stacklevel=4,
            )

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        scores, delta, steps = context[index]
        options: dict[str, Any] = {"baseline": self.baseline, "n_steps": steps, "integration": self.rule}
        if self.tolerance is not None:
            options["delta_tolerance"] = self.tolerance
        return scores, delta, options


class _EmbeddingGradient(TokenExplainer):
    """Shared by the one-pass gradient methods: a Captum attribution at the word embeddings,
    reduced to one score per token."""

    def _captum(self) -> Any:
        raise NotImplementedError

    def _reduce(self, per_dimension: Any) -> Any:
        raise NotImplementedError

    def _attribute(
        self, enc: _Encoded, target: int, index: int, context: Any
    ) -> tuple[list[float], float | None, dict[str, Any]]:
        embeds = self.model.get_input_embeddings()(enc.input_ids).detach().requires_grad_()
        scores = self._captum().attribute(
            embeds, target=target, additional_forward_args=(_ones(enc.input_ids), enc.token_type_ids)
        )
        return self._reduce(scores[0].detach()).cpu().tolist(), None, {}


class SaliencyExplainer(_EmbeddingGradient):
    """Saliency (Simonyan et al. 2014): the L2 norm of the gradient at each token's embedding.

    Unsigned: it says how sensitive the target logit is to a token, not in which direction.
    """

    method = "saliency"

    def _captum(self) -> Any:
        from captum.attr import Saliency

        return Saliency(self.embeddings_forward)

    def _reduce(self, per_dimension: Any) -> Any:
        return per_dimension.norm(dim=-1)


class InputXGradientExplainer(_EmbeddingGradient):
    """Input x gradient (Shrikumar et al. 2016) on the word embeddings, summed over dimensions."""

    method = "input-x-gradient"

    def _captum(self) -> Any:
        from captum.attr import InputXGradient

        return InputXGradient(self.embeddings_forward)

    def _reduce(self, per_dimension: Any) -> Any:
        return per_dimension.sum(-1)


class _WordPerturbation(TokenExplainer):
    """Shared by the perturbation methods: words are the features, [CLS] and [SEP] stay put."""

    option_names = ("baseline",)

    def __init__(self, model: Any, tokenizer: Any, *, baseline: str = "pad", **options: Any) -> None:
        super().__init__(model, tokenizer, **options)
        if baseline == "zero":
            raise ConfigError(f"'{self.method}' removes words by token; use --baseline pad or mask")
        self.baseline = _check_baseline(baseline)

    def _inner(self, enc: _Encoded) -> tuple[Any, Any, Any]:
        """The pieces that are not special tokens, their word index as feature mask, and the
        baseline."""
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

        # Perturbed pieces go back between the special tokens ([CLS], and one or two [SEP]).
        inner = torch.tensor([not s for s in enc.special], device=self.device)

        def forward(pieces: Any) -> Any:
            n = pieces.shape[0]
            ids = enc.input_ids.expand(n, -1).clone()
            ids[:, inner] = pieces
            with torch.no_grad():
                return self.model(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    token_type_ids=enc.token_type_ids.expand(n, -1),
                ).logits.float()

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
