"""Built-in plugin: explanations with Captum (integrated gradients on the word embeddings)."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import ExplainerSpec


@hookimpl
def ptm_register_explainers(register):
    register(
        ExplainerSpec(
            id="ig",
            summary="integrated gradients on the word-embedding layer (Captum)",
            factory="ptm_captum.ig:attribute_tokens",
            reference="Sundararajan, Taly and Yan, Axiomatic Attribution for Deep Networks, ICML 2017",
        )
    )
