"""Built-in plugin: explanations through Captum.

Integrated gradients (the default), saliency, input x gradient, word occlusion and KernelSHAP,
all returning :class:`toolkit.explanations.Explanation` records so that ``ptm explain
evaluate`` can compare them side by side. Captum is imported only when one is used.
"""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import ExplainerSpec

EXPLAINERS = (
    ("ig", "IntegratedGradientsExplainer",
     "integrated gradients on the word-embedding layer (Captum)",
     "Sundararajan, Taly and Yan, Axiomatic Attribution for Deep Networks, ICML 2017"),
    ("saliency", "SaliencyExplainer",
     "gradient norm at each token's embedding (unsigned)",
     "Simonyan, Vedaldi and Zisserman, Deep Inside Convolutional Networks, ICLR workshop 2014"),
    ("input-x-gradient", "InputXGradientExplainer",
     "embedding times gradient, summed over dimensions",
     "Shrikumar et al., Not Just a Black Box, 2016"),
    ("occlusion", "OcclusionExplainer",
     "drop in the target logit when each word is replaced by [PAD]",
     "Zeiler and Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014"),
    ("kernel-shap", "KernelShapExplainer",
     "Shapley values of words estimated from sampled coalitions",
     "Lundberg and Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017"),
)


@hookimpl
def ptm_register_explainers(register):
    for id_, cls, summary, reference in EXPLAINERS:
        register(
            ExplainerSpec(
                id=id_, summary=summary, factory=f"ptm_captum.explainers:{cls}", reference=reference
            )
        )
