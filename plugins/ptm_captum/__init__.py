"""Built-in plugin: explanations through Captum.

Integrated gradients (the default), saliency, input x gradient, word occlusion and KernelSHAP,
all returning :class:`toolkit.explanations.Explanation` records so that ``ptm explain
evaluate`` can compare them side by side. Captum is imported only when one is used.
"""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import ExplainerSpec, Option

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


def explainer_options() -> dict[str, dict[str, Option]]:
    """The options each explainer takes (what ``ptm explain --option`` may name), by id."""
    from ptm_captum.explainers import BASELINES, FIRST_STEPS, GROUP_SIZE

    common = {"max_length": Option(help="tokens kept per text", type=int, default="128")}
    words = tuple(b for b in BASELINES if b != "zero")  # words are removed by token, not embedding
    return {
        "ig": {
            "baseline": Option(help="what each token's embedding is compared with", type=str,
                               choices=BASELINES, default="pad"),
            "n_steps": Option(help="integration steps (at least 2)", type=int,
                              default=f"50; from {FIRST_STEPS}, raised 1.5x, with delta_tolerance"),
            "delta_tolerance": Option(help="raise the steps per sentence until |convergence delta| is below this",
                                      type=float),
            "method": Option(help="Captum's integration rule (riemann_left, riemann_right, riemann_middle, "
                                  "riemann_trapezoid, gausslegendre)", type=str, default="gausslegendre"),
            "group_size": Option(help="sentences of similar length integrated in one call", type=int,
                                 default=str(GROUP_SIZE)),
            "internal_batch_size": Option(help="Captum's internal batch of path points", type=int,
                                          default="all steps at once"),
            **common,
        },
        "saliency": common,
        "input-x-gradient": common,
        "occlusion": {
            "baseline": Option(help="the token that replaces a removed word", type=str, choices=words, default="pad"),
            **common,
        },
        "kernel-shap": {
            "baseline": Option(help="the token that replaces a removed word", type=str, choices=words, default="pad"),
            "n_samples": Option(help="coalitions sampled (at least 2)", type=int, default="200"),
            "seed": Option(help="seed of the sampled coalitions", type=int, default="0"),
            **common,
        },
    }


@hookimpl
def ptm_register_explainers(register):
    options = explainer_options()
    for id_, cls, summary, reference in EXPLAINERS:
        register(
            ExplainerSpec(
                id=id_, summary=summary, factory=f"ptm_captum.explainers:{cls}", reference=reference,
                options=options[id_],
            )
        )
