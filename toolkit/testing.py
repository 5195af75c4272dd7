"""A pytest plugin for plugin authors (loaded automatically through the ``pytest11`` entry point).

Fixtures:
    ptm_manager     a fresh plugin manager with the installed plugins, in strict mode.
    ptm_register    ``ptm_register(plugin)`` registers a plugin object on ``ptm_manager``
                    and unregisters it when the test ends.
    ptm_cli         ``ptm_cli("plugins", "list")`` runs the CLI built on ``ptm_manager``
                    with click's CliRunner and returns the result.

Contract checks (plain functions; they raise ``AssertionError`` naming what is wrong):
    check_explainer an explainer gives one well-formed Explanation per text: one score per
                    token, words that sum their pieces, the target and probability the model gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from toolkit.manager import PtmPluginManager, create_plugin_manager


@pytest.fixture
def ptm_manager() -> PtmPluginManager:
    """A fresh plugin manager with every installed plugin, failing loudly on a broken one."""
    return create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})


@pytest.fixture
def ptm_register(ptm_manager: PtmPluginManager) -> Iterator[Callable[..., str | None]]:
    """Register plugin objects on ``ptm_manager`` for one test; unregistered afterwards."""
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> str | None:
        plugin_name = ptm_manager.register(plugin, name)
        registered.append(plugin)
        return plugin_name

    try:
        yield register
    finally:
        for plugin in registered:
            if ptm_manager.is_registered(plugin):
                ptm_manager.unregister(plugin)


@pytest.fixture
def ptm_cli(ptm_manager: PtmPluginManager) -> Callable[..., Any]:
    """Run ``ptm`` in-process on ``ptm_manager``: ``ptm_cli("plugins", "list", "--json")``."""
    from click.testing import CliRunner

    from toolkit.cli import create_cli

    def invoke(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(create_cli(ptm_manager), list(args), input=input)

    return invoke


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
