"""ptm-gradient-shap: a third-party plugin that adds GradientSHAP to ``ptm explain``.

The `write-a-plugin` lesson copies this file (and its pyproject.toml) out for the student. It
uses only the public contract of the toolkit: ``toolkit.hookimpl``, the ``ExplainerSpec``
record, ``toolkit.explanations.explanation_from_scores`` and ``toolkit.errors``. Installed with
``pip install -e .`` it is found through the ``ptm`` entry-point group like any other plugin.

GradientSHAP (Lundberg and Lee, NeurIPS 2017; Captum's ``GradientShap``) averages the
gradient times the input-minus-baseline difference at random points between random baselines
and the input: integrated gradients with the path and the baseline sampled instead of fixed
(the "expected gradients" of Erion et al., 2021). Its scores therefore sum to the target logit
at the input minus the *mean* logit at the baselines only in expectation over those draws; one
explanation from ``n_samples`` draws misses that total by a sampling error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from toolkit import hookimpl
from toolkit.errors import ConfigError
from toolkit.explanations import Explanation, explanation_from_scores
from toolkit.registry import ExplainerSpec

METHOD = "gradient-shap"


class GradientShapExplainer:
    """Explains a sequence classifier's predictions with Captum's GradientShap on the word
    embeddings; the baselines are the sentence with its words replaced by [PAD] and by [MASK].

    Captum samples points between baseline and input in the space it is given, so it is given
    embeddings (floats), not token ids."""

    options = ("n_samples", "stdevs", "seed")

    def __init__(self, model: Any, tokenizer: Any, *, n_samples: int = 32, stdevs: float = 0.0,
                 seed: int = 0, **unknown: Any) -> None:
        if unknown:  # the contract: an unknown option is a one-line error
            raise ConfigError(f"explainer '{METHOD}' has no option {', '.join(sorted(unknown))} "
                              f"(options: {', '.join(self.options)})")
        if n_samples < 1:
            raise ConfigError(f"n_samples must be at least 1, got {n_samples}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.n_samples, self.stdevs, self.seed = int(n_samples), float(stdevs), int(seed)
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.max_length = int(model.config.max_position_embeddings)

    def explain(self, texts: Sequence[str], *, target: int | str | None = None) -> list[Explanation]:
        import torch
        from captum.attr import GradientShap

        texts = list(texts)
        if not texts or any(not t.strip() for t in texts):
            raise ConfigError("give at least one non-empty text to explain")
        device = next(self.model.parameters()).device

        embed = self.model.get_input_embeddings()

        def forward(embeddings: Any, attention_mask: Any) -> Any:
            return self.model(inputs_embeds=embeddings, attention_mask=attention_mask).logits

        gradient_shap = GradientShap(forward)
        out = []
        for text in texts:
            enc = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt",
                                 return_special_tokens_mask=True).to(device)
            ids, mask = enc["input_ids"], enc["attention_mask"]
            with torch.no_grad():
                inputs = embed(ids)
                probs = forward(inputs, mask).float().softmax(-1)[0]
            index = self._target(target, int(probs.argmax()))
            keep = enc["special_tokens_mask"].bool()  # [CLS] and [SEP] stay in every baseline
            with torch.no_grad():
                baselines = torch.cat([
                    embed(torch.where(keep, ids, torch.full_like(ids, token)))
                    for token in (self.tokenizer.pad_token_id, self.tokenizer.mask_token_id)
                ])
            with _seeded(self.seed, device):  # the draws are random: fix them for repeatable scores
                scores = gradient_shap.attribute(inputs, baselines=baselines, target=index, n_samples=self.n_samples,
                                                 stdevs=self.stdevs, additional_forward_args=(mask,))
            out.append(explanation_from_scores(
                text, self.tokenizer, scores.sum(-1)[0].tolist(), method=METHOD, target=index,
                label_names=self.labels, probability=float(probs[index]), max_length=self.max_length,
                options={"n_samples": self.n_samples, "stdevs": self.stdevs, "seed": self.seed,
                         "baselines": "pad+mask"},
            ))
        return out

    def _target(self, target: int | str | None, predicted: int) -> int:
        if target is None:
            return predicted
        if isinstance(target, str) and target in self.labels:
            return self.labels.index(target)
        try:
            index = int(target)
        except ValueError:
            raise ConfigError(f"target '{target}' is not a label of this model ({', '.join(self.labels)})") from None
        if not 0 <= index < len(self.labels):
            raise ConfigError(f"target {index} is out of range: the model has {len(self.labels)} classes")
        return index


@contextmanager
def _seeded(seed: int, device: Any) -> Iterator[None]:
    """Seed the generators Captum's GradientShap draws from, and restore them afterwards.

    Captum's GradientShap (0.9) draws the baselines and the points on the path with NumPy's
    global generator (``np.random.choice``, ``np.random.uniform``) and the input noise with
    torch's, so seeding torch alone leaves the scores random."""
    import numpy as np
    import torch

    state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            np.random.seed(seed)
            torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(state)


@hookimpl
def ptm_register_explainers(register: Any) -> None:
    register(ExplainerSpec(
        id=METHOD,
        summary="expected gradients from random points between [PAD]/[MASK] baselines and the input",
        factory=GradientShapExplainer,
        reference="Lundberg and Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    ))
