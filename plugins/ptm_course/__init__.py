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
