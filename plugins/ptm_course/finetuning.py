"""The `finetuning` lesson, headless: tokenize, fine-tune MiniLM on `reviews`, score it, cost it.

Everything goes through the toolkit's public API (``toolkit.pipeline``), the same calls the
notebook makes, so the lesson teaches what a user would type.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

EXAMPLES = (
    "A warm, funny and beautifully acted film.",
    "I would not call it boring at all.",
    "The plot is thin and the jokes fall flat.",
)
# The claim: a fine-tuned pretrained encoder is far better than guessing the commonest label.
TARGET_ACCURACY = 0.80


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from toolkit import explain_views, pipeline
    from toolkit.lessons import LessonResult
    from toolkit.report import Section

    data = pipeline.load_data(pm, "reviews")
    train_rows, test_rows = data.train_test()
    counts = Counter(e.label for e in test_rows)
    majority = max(counts.values()) / len(test_rows)

    loaded = pipeline.load_model(pm, "minilm", label_names=data.label_names)
    sentence = EXAMPLES[1]
    pieces = loaded.tokenizer.tokenize(sentence)
    ids = loaded.tokenizer(sentence)["input_ids"]

    epochs = 1 if quick else 3
    metrics = pipeline.train(
        pm, model="minilm", data="reviews", out=out / "run", device=device,
        epochs=epochs, max_length=64, progress=progress,
    )
    final = metrics["final"]
    predictions = pipeline.predict(pm, out / "run", list(EXAMPLES), device=device)
    explained = pipeline.explain(pm, out / "run", list(EXAMPLES), method="ig", n_steps=32, device=device)
    numbers = {
        "test accuracy": round(final["accuracy"], 3),
        "test macro-F1": round(final["f1"], 3),
        "majority-class accuracy": round(majority, 3),
        "epochs": epochs,
        "training seconds": round(metrics["train_seconds"], 1),
        "tokens seen": metrics["tokens_seen"],
        "training FLOPs (estimate)": f"{metrics['train_flops_estimate']:.2e}",
    }
    names = list(data.label_names)
    matrix = final["confusion_matrix"]
    sections = [
        Section(
            "1. The data",
            text=(f"The reviews data: {len(train_rows)} training and {len(test_rows)} test sentences, "
                  f"labels {', '.join(names)}. Always answering the commonest test label scores "
                  f"{majority:.3f}: the bar to beat."),
            numbers={name: counts.get(i, 0) for i, name in enumerate(names)},
        ),
        Section(
            "2. Tokenization",
            text=(f"WordPiece splits \"{sentence}\" into {len(pieces)} pieces:\n\n"
                  + " | ".join(pieces)
                  + f"\n\nWith [CLS] in front and [SEP] at the end the model reads {len(ids)} ids."),
        ),
        Section(
            "3. Fine-tuning",
            text=(f"MiniLM-L6 (22M parameters) with a new classification head on the mean of its "
                  f"token vectors, AdamW with warm-up, {epochs} epoch(s), batch 8."),
            images=(out / "run" / "curves.png",),
        ),
        Section(
            "4. Held-out scores",
            text="Confusion matrix, rows = true label, columns = predicted: "
                 + "; ".join(f"{names[i]}: " + ", ".join(f"{names[j]} {matrix[i][j]}" for j in range(len(names)))
                             for i in range(len(names))),
            numbers={"accuracy": round(final["accuracy"], 3), "macro-F1": round(final["f1"], 3), "n": final["n"]},
            images=(out / "run" / "confusion.png",),
        ),
        Section(
            "5. What it cost",
            text="FLOPs follow the usual estimate of 6 per non-embedding parameter per token seen.",
            numbers={
                "tokens seen": metrics["tokens_seen"],
                "training FLOPs (estimate)": f"{metrics['train_flops_estimate']:.2e}",
                "training seconds": round(metrics["train_seconds"], 1),
                "examples per second": round(metrics["examples_per_second"], 1),
                "device": metrics["device"],
            },
        ),
        Section(
            "6. Predictions, and why",
            text=("The model's label and its probability for three sentences it never saw. Below, "
                  "integrated gradients (the explainability lesson) colour each word by how much it "
                  "moved the prediction."),
            numbers={p["text"]: f"{p['label']} ({p['probability']:.2f})" for p in predictions},
            html=explain_views.as_html(explained),
        ),
    ]
    holds = final["accuracy"] >= TARGET_ACCURACY and final["accuracy"] > majority + 0.2
    claim = (f"Fine-tuned MiniLM scores at least {TARGET_ACCURACY:.2f} accuracy on the held-out reviews, "
             f"far above the majority class ({majority:.2f}): it scored {final['accuracy']:.3f}.")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
