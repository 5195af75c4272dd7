"""Contract checks: does a plugin's record keep the promise its spec makes?

Plain functions (no pytest needed, so lessons and notebooks can call them too); each raises
``AssertionError`` with a message naming the method, the text and what is wrong. Plugin
authors get them through ``toolkit.testing`` in their own test suites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from toolkit.manager import PtmPluginManager

CHECK_TEXTS = ("A warm, funny and beautifully acted film.", "The plot is thin; the jokes fall flat.")


def check_explainer(
    pm: PtmPluginManager,
    method: str,
    model: Any,
    tokenizer: Any,
    texts: Sequence[str] = CHECK_TEXTS,
    **options: Any,
) -> list[Any]:
    """Check that explainer ``method`` keeps the contract of :class:`~toolkit.registry.ExplainerSpec`.

    Builds it through the registry (as ``ptm explain`` does) for a sequence classifier and its
    fast tokenizer, explains ``texts`` and checks every record: an ``Explanation``, one finite
    score per token of the model's own tokenization, the words of the text with the sums of
    their pieces' scores, the predicted class as target with the model's probability for it,
    an explicit ``target`` honoured, and empty text refused with a ``ConfigError``. Returns
    the explanations.
    """
    import torch

    from toolkit.errors import ConfigError
    from toolkit.explanations import Explanation
    from toolkit.pipeline import make_explainer

    texts = list(texts)
    explainer = make_explainer(pm, model, tokenizer, method, options)
    explanations = list(explainer.explain(texts))
    assert len(explanations) == len(texts), f"{method}: {len(explanations)} explanations for {len(texts)} texts"
    model.eval()
    for text, e in zip(texts, explanations):
        where = f"{method} on '{text[:30]}'"
        assert isinstance(e, Explanation), f"{where}: returned {type(e).__name__}, not toolkit.explanations.Explanation"
        assert e.text == text, f"{where}: the record's text is '{e.text[:30]}'"
        assert e.method == method, f"{where}: method is '{e.method}', not the registered id '{method}'"
        ids = tokenizer(text, truncation=True, max_length=int(model.config.max_position_embeddings))["input_ids"]
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
            assert e.words[index].lower().replace(" ", "") in text.lower().replace(" ", ""), f"{where}: word '{e.words[index]}' is not in the text"
        with torch.no_grad():
            batch = tokenizer(text, truncation=True, return_tensors="pt").to(next(model.parameters()).device)
            probs = model(**batch).logits.float().softmax(-1)[0]
        predicted = int(probs.argmax())
        assert e.target == predicted, f"{where}: target {e.target}, but the model predicts {predicted}"
        assert e.target_label == model.config.id2label[predicted], f"{where}: target_label '{e.target_label}'"
        assert math.isclose(e.probability, float(probs[predicted]), abs_tol=1e-3), (
            f"{where}: probability {e.probability:.4f}, the model gives {float(probs[predicted]):.4f}")
    other = 1 - explanations[0].target if model.config.num_labels == 2 else 0
    [forced] = explainer.explain(texts[:1], target=other)
    assert forced.target == other, f"{method}: target={other} was asked, {forced.target} explained"
    try:
        explainer.explain([" "])
    except ConfigError:
        pass
    else:
        raise AssertionError(f"{method}: empty text should raise toolkit.errors.ConfigError")
    return explanations
