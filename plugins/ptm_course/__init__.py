"""Built-in plugin: the course's lessons."""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import Lesson


@hookimpl
def ptm_register_lessons(register):
    register(
        Lesson(
            id="finetuning",
            title="Fine-tuning BERT for text classification",
            summary="tokenize, fine-tune MiniLM on labelled reviews, measure accuracy and cost",
            minutes=10,
            outline=(
                "WordPiece tokenization and the [CLS] token",
                "a classification head on a pretrained encoder",
                "AdamW with warm-up, one epoch on two CPU cores",
                "accuracy, macro-F1, confusion matrix; tokens, FLOPs and seconds spent",
            ),
            needs=("model:minilm", "dataset:reviews", "task:text-classification"),
            notebook="ptm_course.tutorials:finetuning.ipynb",
            factory="ptm_course.finetuning:run",
        )
    )
    register(
        Lesson(
            id="privacy",
            title="Training with differential privacy",
            summary="the (epsilon, delta) promise, DP-SGD strategies, accountants, a membership audit",
            minutes=15,
            outline=(
                "the (epsilon, delta) definition, checked on a Laplace count query",
                "DP-SGD: clipping, noise, Poisson sampling; which parameters to train (head, LoRA, all)",
                "the same run under the RDP, PRV and GDP accountants",
                "a loss-threshold membership-inference attack on a private and a non-private model",
            ),
            needs=("model:minilm", "dataset:reviews", "privacy:dp-sgd"),
            factory="ptm_course.privacy:run",
        )
    )

