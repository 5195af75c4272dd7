"""Contract checks: does a plugin's record keep the promise its spec makes?

Plain functions (no pytest needed, so lessons and notebooks can call them too); each raises
``AssertionError`` with a message naming the method, the text and what is wrong. Plugin
authors get them through ``toolkit.testing`` in their own test suites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from toolkit.data import Example, TextDataset
from toolkit.manager import PtmPluginManager

CHECK_TEXTS = ("A warm, funny and beautifully acted film.", "The plot is thin; the jokes fall flat.")

_TINY_POSITIVE = (
    "a warm and funny film", "the soup was delicious", "great battery life", "i loved every minute",
    "friendly staff and quick service", "a clever, moving story", "works perfectly out of the box",
    "the best meal this year", "beautiful photography throughout", "fast, simple and reliable",
    "an absolute joy to watch", "fresh bread and kind waiters",
)
_TINY_NEGATIVE = (
    "a dull and lifeless film", "the soup was cold", "the battery died in an hour", "i hated the ending",
    "rude staff and a long wait", "a confused, boring story", "it crashed twice on day one",
    "the worst meal this year", "blurry, badly lit scenes", "slow, clumsy and unreliable",
    "a chore to sit through", "stale bread and an empty kitchen",
)


def tiny_dataset() -> TextDataset:
    """24 short labelled sentences (negative/positive), 18 to train and 6 to test: data for a
    plugin's tests that loads instantly and that tiny-bert trains on in a second."""
    examples = [Example(text=t, label=1) for t in _TINY_POSITIVE] + [
        Example(text=t, label=0) for t in _TINY_NEGATIVE
    ]
    order = [i for pair in zip(range(12), range(12, 24)) for i in pair]  # alternate the labels
    rows = [examples[i] for i in order]
    return TextDataset(
        name="tiny",
        label_names=("negative", "positive"),
        splits={"train": rows[:18], "test": rows[18:]},
        source="toolkit.contracts.tiny_dataset",
    )


def check_task(pm: PtmPluginManager, task: str) -> Any:
    """Check that task ``task`` is registered with one or two named inputs and metrics, and
    that its default data (``TaskSpec.data``), if it names one, keeps :func:`check_dataset`.
    Returns the record."""
    from toolkit.registry import TaskSpec

    spec = pm.registry.get(TaskSpec, task)
    assert 1 <= len(spec.inputs) <= 2 and all(isinstance(i, str) and i for i in spec.inputs), (
        f"task '{task}': inputs {spec.inputs!r} should be one or two names")
    assert spec.metrics, f"task '{task}' names no metrics"
    if spec.data:
        dataset = check_dataset(pm, spec.data)
        assert dataset.task == task, f"task '{task}': its data '{spec.data}' is labelled for '{dataset.task}'"
    return spec


def check_dataset(pm: PtmPluginManager, ref: str, **options: Any) -> TextDataset:
    """Check that dataset ``ref`` (an id, or a reference a dataset record claims) loads as
    ``ptm train --data ref`` loads it and keeps the contract of
    :class:`~toolkit.registry.DatasetSpec`: a :class:`~toolkit.data.TextDataset` for a
    registered task, distinct label names, non-empty splits of examples whose texts are
    non-empty, whose labels (or, for a per-word task, each word's tag) are indices into
    ``label_names`` and whose second text is there
    exactly when the task takes pairs, and at least two labels to train on. ``options`` are
    ``text_column``/``label_column``. Returns the dataset."""
    from toolkit.pipeline import load_data
    from toolkit.registry import TaskSpec

    dataset = load_data(pm, ref, **options)
    where = f"dataset '{ref}'"
    assert isinstance(dataset, TextDataset), f"{where}: got {type(dataset).__name__}, not a TextDataset"
    assert (TaskSpec.kind, dataset.task) in pm.registry, (
        f"{where}: its task '{dataset.task}' is not registered (register a TaskSpec for it)")
    task = pm.registry.get(TaskSpec, dataset.task)
    names = list(dataset.label_names)
    assert len(names) >= 2 and all(isinstance(n, str) and n for n in names), f"{where}: label names {names!r}"
    assert len(set(names)) == len(names), f"{where}: label names repeat: {names!r}"
    assert dataset.splits and all(dataset.splits.values()), f"{where}: a split is empty: {list(dataset.splits)}"
    pairs = len(task.inputs) == 2
    per_word = task.labels == "per-word"
    for split, rows in dataset.splits.items():
        for n, e in enumerate(rows):
            at = f"{where}, split '{split}', example {n}"
            assert isinstance(e, Example), f"{at}: {type(e).__name__}, not toolkit.data.Example"
            assert isinstance(e.text, str) and e.text.strip(), f"{at}: empty text"
            if per_word:
                assert e.words and len(e.words) == len(e.tags), (
                    f"{at}: task '{task.id}' tags words, but the example has {len(e.words)} words and {len(e.tags)} tags")
                assert all(isinstance(t, int) and 0 <= t < len(names) for t in e.tags), (
                    f"{at}: tags {list(e.tags)!r} are not all indices into {names}")
            else:
                assert isinstance(e.label, int) and 0 <= e.label < len(names), (
                    f"{at}: label {e.label!r} is not an index into {names}")
            if pairs:
                assert isinstance(e.text_pair, str) and e.text_pair.strip(), (
                    f"{at}: task '{task.id}' takes pairs but text_pair is {e.text_pair!r}")
            else:
                assert e.text_pair is None, f"{at}: task '{task.id}' takes one text but text_pair is set"
    train, _ = dataset.train_test()
    seen = {t for e in train for t in e.tags} if per_word else {e.label for e in train}
    assert len(seen) >= 2, f"{where}: fewer than two labels to train on"
    return dataset


def check_model(pm: PtmPluginManager, ref: str, *, trainer: str = "finetune",
                label_names: Sequence[str] = ("negative", "positive")) -> Any:
    """Check that model ``ref`` loads through the registry (as ``ptm train --model ref`` loads
    it), with a fresh head for ``label_names``, and that trainer ``trainer`` accepts it: the
    trainer keeps the label names, and ``predict_proba`` gives one row of probabilities
    summing to 1 per text. Returns the trainer, whose ``model`` and ``tokenizer`` can go on
    to :func:`check_explainer`."""
    from toolkit.pipeline import load_model
    from toolkit.registry import TrainerSpec

    loaded = load_model(pm, ref, label_names=label_names)
    fitter = pm.registry.get(TrainerSpec, trainer).load()(loaded, device="cpu")
    where = f"model '{ref}' with trainer '{trainer}'"
    assert list(fitter.label_names) == list(label_names), (
        f"{where}: label names {list(fitter.label_names)}, expected {list(label_names)}")
    probs = fitter.predict_proba(list(CHECK_TEXTS))
    assert tuple(probs.shape) == (len(CHECK_TEXTS), len(label_names)), (
        f"{where}: predict_proba shape {tuple(probs.shape)} for {len(CHECK_TEXTS)} texts and {len(label_names)} labels")
    for row in probs.tolist():
        assert math.isclose(sum(row), 1.0, abs_tol=1e-4) and min(row) >= 0, f"{where}: {row} are not probabilities"
    return fitter


def check_explainer(
    pm: PtmPluginManager,
    method: str,
    model: Any,
    tokenizer: Any,
    texts: Sequence[str] = CHECK_TEXTS,
    *,
    text_pairs: Sequence[str] | None = None,
    **options: Any,
) -> list[Any]:
    """Check that explainer ``method`` keeps the contract of :class:`~toolkit.registry.ExplainerSpec`.

    Builds it through the registry (as ``ptm explain`` does) for a sequence classifier and its
    fast tokenizer, explains ``texts`` and checks every record: an ``Explanation``, one finite
    score per token of the model's own tokenization, the words of the text with the sums of
    their pieces' scores, the predicted class as target with the model's probability for it,
    an explicit ``target`` honoured, and empty text refused with a ``ConfigError``. With
    ``text_pairs`` (one second text per text) it checks sentence-pair explanations: tokens of
    both segments, the words of the first text then those of the second, each word's segment.
    Returns the explanations.
    """
    import torch

    from toolkit.errors import ConfigError
    from toolkit.explanations import Explanation
    from toolkit.pipeline import make_explainer

    texts = list(texts)
    pairs: list[str | None] = list(text_pairs) if text_pairs is not None else [None] * len(texts)
    assert len(pairs) == len(texts), f"give one second text per text ({len(texts)} texts, {len(pairs)} pairs)"
    extra = {"text_pairs": pairs} if text_pairs is not None else {}
    explainer = make_explainer(pm, model, tokenizer, method, options)
    explanations = list(explainer.explain(texts, **extra))
    assert len(explanations) == len(texts), f"{method}: {len(explanations)} explanations for {len(texts)} texts"
    model.eval()
    for text, pair, e in zip(texts, pairs, explanations):
        where = f"{method} on '{text[:30]}'"
        assert isinstance(e, Explanation), f"{where}: returned {type(e).__name__}, not toolkit.explanations.Explanation"
        assert e.text == text, f"{where}: the record's text is '{e.text[:30]}'"
        assert e.text_pair == pair, f"{where}: the record's text_pair is {e.text_pair!r}, not {pair!r}"
        assert e.method == method, f"{where}: method is '{e.method}', not the registered id '{method}'"
        encoding = tokenizer(text, pair, truncation=True, max_length=int(model.config.max_position_embeddings))
        ids = encoding["input_ids"]
        assert list(e.token_ids) == list(ids), f"{where}: token_ids differ from the tokenizer's"
        n = len(e.token_ids)
        assert len(e.tokens) == len(e.attributions) == len(e.word_ids) == n, (
            f"{where}: {len(e.attributions)} scores, {len(e.tokens)} tokens, {len(e.word_ids)} word ids "
            f"for {n} token ids: give one per token")
        assert all(math.isfinite(a) for a in e.attributions), f"{where}: a score is not finite"
        words = sorted({w for w in e.word_ids if w is not None})
        assert len(e.words) == len(e.word_attributions) == len(words), f"{where}: words and word scores do not match the word ids"
        for index, word in enumerate(words):
            total = sum(a for a, w in zip(e.attributions, e.word_ids) if w == word)
            assert math.isclose(e.word_attributions[index], total, rel_tol=1e-4, abs_tol=1e-6), (
                f"{where}: word '{e.words[index]}' scores {e.word_attributions[index]}, its pieces sum to {total}")
            source = text if pair is None or e.word_segments[index] == 0 else pair
            assert e.words[index].lower().replace(" ", "") in source.lower().replace(" ", ""), f"{where}: word '{e.words[index]}' is not in its text"
        if pair is not None:
            first = len({w for w, s in zip(encoding.word_ids(), encoding.sequence_ids()) if s == 0 and w is not None})
            assert list(e.word_segments) == [0] * first + [1] * (len(e.words) - first), (
                f"{where}: word_segments {list(e.word_segments)} should mark the {first} words of the first text 0, the rest 1")
        else:
            assert not e.word_segments, f"{where}: word_segments set for one text"
        with torch.no_grad():
            batch = tokenizer(text, pair, truncation=True, return_tensors="pt").to(next(model.parameters()).device)
            probs = model(**batch).logits.float().softmax(-1)[0]
        predicted = int(probs.argmax())
        assert e.target == predicted, f"{where}: target {e.target}, but the model predicts {predicted}"
        assert e.target_label == model.config.id2label[predicted], f"{where}: target_label '{e.target_label}'"
        assert math.isclose(e.probability, float(probs[predicted]), abs_tol=1e-3), (
            f"{where}: probability {e.probability:.4f}, the model gives {float(probs[predicted]):.4f}")
    other = 1 - explanations[0].target if model.config.num_labels == 2 else 0
    [forced] = explainer.explain(texts[:1], target=other, **{k: v[:1] for k, v in extra.items()})
    assert forced.target == other, f"{method}: target={other} was asked, {forced.target} explained"
    try:
        explainer.explain([" "], **{k: v[:1] for k, v in extra.items()})
    except ConfigError:
        pass
    else:
        raise AssertionError(f"{method}: empty text should raise toolkit.errors.ConfigError")
    return explanations
