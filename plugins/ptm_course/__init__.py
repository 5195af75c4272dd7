"""Built-in plugin: the course's lessons."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import Lesson


@hookimpl
def ptm_register_lessons(register):
    register(
        Lesson(
            id="pretraining",
            order=10,
            title="Pretraining BERT with masked language modelling",
            summary="pretrain a small BERT on unlabelled reviews, then see what pretraining is worth",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer: the quick notebook
            # through `ptm lesson grade`, `ptm lesson run --quick`; full modes not re-measured
            # since the exercises (0: unknown)
            minutes=0, quick_minutes=1.2, headless_minutes=(0.9, 0),
            outline=(
                "the masked-language-model objective, on one sentence",
                "pretraining a small BERT; held-out masked-token accuracy against the unigram floor",
                "what the model learned to fill in",
                "fine-tuning the same architectures with and without pretraining",
            ),
            needs=("model:tiny-bert", "model:minilm", "dataset:reviews"),
            notebook="ptm_course.tutorials:pretraining.ipynb",
            factory="ptm_course.pretraining:run",
        )
    )
    register(
        Lesson(
            id="finetuning",
            order=20,
            title="Fine-tuning BERT for text classification",
            summary="tokenize, fine-tune MiniLM on labelled reviews, measure accuracy and cost; heads for pairs and tags",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer and the task-heads
            # section: the quick notebook through `ptm lesson grade`, `ptm lesson run --quick`;
            # full modes not re-measured since the exercises (0: unknown).
            minutes=0, quick_minutes=1.1, headless_minutes=(0.5, 0),
            outline=(
                "WordPiece tokenization and the [CLS] token",
                "a classification head on a pretrained encoder",
                "AdamW with warm-up, one epoch on two CPU cores",
                "accuracy, macro-F1, confusion matrix; tokens, FLOPs and seconds spent",
                "task heads on one encoder: a sentence, a sentence pair, a tag for every word",
                "token classification: word tags aligned to WordPiece pieces, entity-level F1",
            ),
            needs=("model:minilm", "dataset:reviews", "task:text-classification", "dataset:entities", "task:tagging"),
            notebook="ptm_course.tutorials:finetuning.ipynb",
            factory="ptm_course.finetuning:run",
        )
    )
    register(
        Lesson(
            id="training-cost",
            order=25,
            title="What fine-tuning costs, and how to cut it",
            summary="full fine-tuning, LoRA, head-only and a smaller distilled model: FLOPs and seconds against accuracy",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer: the quick notebook
            # through `ptm lesson grade`, `ptm lesson run --quick`; full modes not re-measured
            # since the exercises (0: unknown)
            minutes=0, quick_minutes=1.0, headless_minutes=(0.7, 0),
            outline=(
                "counting training FLOPs: forward for every layer, backward only where it is needed",
                "full fine-tuning, LoRA and head-only on the same data, seeds and budget",
                "a smaller distilled model, and bf16 where the CPU supports it",
                "a Pareto plot of training FLOPs and seconds against dev and test accuracy",
            ),
            needs=("model:minilm", "dataset:reviews", "task:text-classification"),
            notebook="ptm_course.tutorials:training_cost.ipynb",
            factory="ptm_course.training_cost:run",
        )
    )
    register(
        Lesson(
            id="privacy",
            order=30,
            title="Training with differential privacy",
            summary="the (epsilon, delta) promise, DP-SGD strategies, accountants, a membership audit",
            # measured on 2 idle cores: the quick notebook through `ptm lesson grade`, `ptm lesson
            # run --quick` (2026-12-03, with the fused optimizer); the full notebook (PTM_QUICK=0,
            # executed with nbclient) and `ptm lesson run privacy` 3.6 min each (2026-12-03, the
            # head's frozen encoder run once, before the fused optimizer)
            minutes=3.6, quick_minutes=1.2, headless_minutes=(0.8, 3.6),
            outline=(
                "the (epsilon, delta) definition, checked on a Laplace count query",
                "DP-SGD: clipping, noise, Poisson sampling; which parameters to train (head, LoRA, all)",
                "the same run under the RDP, PRV and GDP accountants",
                "a loss-threshold membership-inference attack on a private and a non-private model",
            ),
            needs=("model:minilm", "dataset:reviews", "privacy:dp-sgd"),
            notebook="ptm_course.tutorials:privacy.ipynb",
            factory="ptm_course.privacy:run",
        )
    )
    register(
        Lesson(
            id="explainability",
            order=40,
            title="Explaining predictions with integrated gradients",
            summary="IG on a fine-tuned MiniLM, baselines and convergence, five methods, faithfulness, a sanity check",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer: the quick notebook
            # through `ptm lesson grade`, `ptm lesson run --quick`; full modes not re-measured
            # since the exercises (0: unknown)
            minutes=0, quick_minutes=1.4, headless_minutes=(1.1, 0),
            outline=(
                "integrated gradients on the word embeddings, and completeness",
                "baselines ([PAD], [MASK], zero) and the convergence delta",
                "saliency, input x gradient, occlusion and KernelSHAP side by side",
                "faithfulness (ERASER comprehensiveness and sufficiency) against random scores",
                "the model-randomisation sanity check",
            ),
            needs=("model:minilm", "dataset:reviews", "explainer:ig"),
            notebook="ptm_course.tutorials:explainability.ipynb",
            factory="ptm_course.explainability:run",
        )
    )
    register(
        Lesson(
            id="private-and-explainable",
            order=50,
            title="Private and explainable: how DP-SGD changes the explanations",
            summary="explain private models and their non-private twins; compare rankings and faithfulness",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer: the quick notebook
            # through `ptm lesson grade`, `ptm lesson run --quick`; full modes not re-measured
            # since the exercises (0: unknown)
            minutes=0, quick_minutes=1.1, headless_minutes=(1.0, 0),
            outline=(
                "private heads (epsilon 8) and their non-private twins, two seeds each",
                "integrated gradients on the same held-out reviews for every model",
                "rank agreement (Spearman) between models, against the seed-to-seed baseline",
                "faithfulness and plausibility of each model's explanations",
            ),
            needs=("model:minilm", "dataset:reviews", "privacy:dp-sgd", "explainer:ig"),
            notebook="ptm_course.tutorials:private_and_explainable.ipynb",
            factory="ptm_course.private_explainable:run",
        )
    )
    register(
        Lesson(
            id="write-a-plugin",
            order=60,
            title="Writing a plugin: a new explainer from outside the toolkit",
            summary="add GradientSHAP as a third-party plugin, check its contract, measure it like the built-ins",
            # measured 2026-12-03 on 2 idle cores, with the fused optimizer: the quick notebook
            # through `ptm lesson grade`, `ptm lesson run --quick`; full modes not re-measured
            # since the exercises (0: unknown)
            minutes=0, quick_minutes=1.2, headless_minutes=(1.0, 0),
            outline=(
                "the contract: registration and lifecycle hooks, records, entry points",
                "a plugin module that registers an ExplainerSpec (GradientSHAP through Captum)",
                "toolkit.testing.check_explainer: the contract every explainer keeps",
                "the new method measured against IG: faithfulness and the randomisation check",
            ),
            needs=("model:minilm", "dataset:reviews", "explainer:ig"),
            notebook="ptm_course.tutorials:write_a_plugin.ipynb",
            factory="ptm_course.write_a_plugin:run",
        )
    )
