"""A BERT classifier on the mean of its last hidden states, as sentence-transformers pools.

``BertForSequenceClassification`` classifies the [CLS] vector after BERT's pooler (a dense
layer with tanh). all-MiniLM-L6-v2, the default model, was trained to make the *mean* of its
token vectors a sentence embedding, and its [CLS] vector is a weak feature: a logistic
regression on frozen features scores 0.79 on SST-2 dev with the mean and 0.73 with [CLS]
(2,000 training phrases; NOTES.md). This class keeps everything of the Bert classes
(``from_pretrained``, ``save_pretrained``, safetensors) and changes only the pooling.

Its config is saved with ``model_type`` :data:`MODEL_TYPE`, not ``bert``: plain transformers
would otherwise load the folder as a ``BertForSequenceClassification`` with a random [CLS]
pooler and give other probabilities without a word. With a model type it does not know,
``AutoModelForSequenceClassification`` and ``pipeline()`` refuse the folder, naming the type.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import BertConfig, BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

POOLINGS = ("cls", "mean")

MODEL_TYPE = "ptm-mean-pooled-bert"
"""The ``model_type`` a mean-pooled classifier's config.json records (see the module's docstring)."""


class MeanPooledBertConfig(BertConfig):
    """BERT's config, saved under :data:`MODEL_TYPE` so no loader mistakes the model for BERT's."""

    model_type = MODEL_TYPE


class BertMeanPooledClassifier(BertForSequenceClassification):
    """Dropout and a linear classifier on the attention-masked mean of the last hidden states."""

    config_class = MeanPooledBertConfig

    def __init__(self, config: Any) -> None:
        if not isinstance(config, MeanPooledBertConfig):
            config = MeanPooledBertConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"})
        super().__init__(config)
        # The [CLS] pooler is unused; dropping it keeps per-example-gradient engines (Opacus)
        # from meeting trainable parameters that never receive a gradient.
        self.bert.pooler = None
        config.classifier_pooling = "mean"

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        hidden = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        ).last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)
