from __future__ import annotations

import math

import numpy as np
import pytest

from toolkit.faithfulness import (
    cascading_randomization,
    comprehensiveness,
    deletion_curve,
    model_scorer,
    plausibility,
    random_explanations,
    rank_agreement,
    sufficiency,
)
from toolkit.errors import ConfigError
from toolkit.explanations import Explanation, words_from_pieces

CLS, SEP, KEY = 101, 102, 7777


def record(token_ids, scores, *, words=None, word_scores=None, target=1):
    """An explanation of one [CLS] w1 .. wn [SEP] sentence, one token per word."""
    n = len(token_ids)
    words = words or tuple(f"w{i}" for i in range(n))
    return Explanation(
        text=" ".join(words),
        method="test",
        tokens=("[CLS]", *words, "[SEP]"),
        token_ids=(CLS, *token_ids, SEP),
        attributions=(0.0, *scores, 0.0),
        word_ids=(None, *range(n), None),
        words=tuple(words),
        word_attributions=tuple(word_scores if word_scores is not None else scores),
        target=target,
        target_label="positive",
        probability=0.5,
    )


class KeyScorer:
    """A fake model: p(positive) is 0.9 when the key token is present, 0.2 when it is not."""

    def __init__(self):
        self.calls = 0

    def __call__(self, sequences):
        self.calls += 1
        positive = np.array([0.9 if KEY in ids else 0.2 for ids in sequences])
        return np.stack([1 - positive, positive], axis=1)


def sentences(n_sentences=30, n_words=10, *, key_rank):
    """Sentences with the key token at a varying position; key_rank 'first' or 'last'."""
    out = []
    for s in range(n_sentences):
        where = s % n_words
        ids = [1000 + i for i in range(n_words)]
        ids[where] = KEY
        scores = [0.5 - 0.01 * i for i in range(n_words)]
        scores[where] = 1.0 if key_rank == "first" else -1.0
        out.append(record(ids, scores))
    return out


def test_a_faithful_explanation_beats_random_and_an_adversarial_one_does_not():
    good = sentences(key_rank="first")
    bad = sentences(key_rank="last")
    baseline = random_explanations(good, seed=0)
    scorer = KeyScorer()

    good_comp, bad_comp, random_comp = (comprehensiveness(scorer, e) for e in (good, bad, baseline))
    good_suff, bad_suff, random_suff = (sufficiency(scorer, e) for e in (good, bad, baseline))

    assert good_comp == pytest.approx(0.7)  # deleting the key token always costs 0.9 - 0.2
    assert good_comp > random_comp + 0.3
    assert bad_comp < random_comp
    assert good_suff == pytest.approx(0.0)  # the key token alone keeps the full probability
    assert good_suff < random_suff - 0.3
    assert bad_suff > random_suff
    # Every perturbation of every sentence goes to the model in one call per metric.
    assert scorer.calls == 6


def test_the_full_probability_comes_from_the_scorer_not_the_record():
    explanation = sentences(1, key_rank="first")[0]
    assert explanation.probability == 0.5
    assert comprehensiveness(KeyScorer(), [explanation], fractions=(0.1,)) == pytest.approx(0.7)


def test_fractions_select_the_ceiling_of_k_times_n_tokens_at_least_one():
    # p(positive) grows by 0.001 per token, so the drop counts the tokens deleted.
    def by_length(sequences):
        positive = np.array([0.001 * len(ids) for ids in sequences])
        return np.stack([1 - positive, positive], axis=1)

    hundred = [record(list(range(1000, 1100)), list(np.linspace(1, 0, 100)))]
    assert comprehensiveness(by_length, hundred, fractions=(0.07,)) == pytest.approx(0.007)  # not 8
    assert comprehensiveness(by_length, hundred, fractions=(0.025,)) == pytest.approx(0.003)
    assert comprehensiveness(by_length, hundred, fractions=(0.001,)) == pytest.approx(0.001)
    with pytest.raises(ConfigError, match="fractions"):
        comprehensiveness(by_length, hundred, fractions=(0.0,))


def test_deletion_curve_starts_at_the_full_probability_and_falls():
    good = sentences(key_rank="first")
    curve = deletion_curve(KeyScorer(), good, steps=10)
    assert len(curve) == 11
    assert curve[0] == pytest.approx(0.9)
    assert curve[-1] == pytest.approx(0.2)
    assert all(later <= earlier for earlier, later in zip(curve, curve[1:]))
    bad_curve = deletion_curve(KeyScorer(), sentences(key_rank="last"), steps=10)
    assert bad_curve[1] == pytest.approx(0.9)  # the adversarial ranking keeps the key token longest


def test_random_explanations_are_seeded_and_sum_pieces_into_words():
    piece = Explanation(
        text="unbelievably good",
        method="ig",
        tokens=("[CLS]", "un", "##believably", "good", "[SEP]"),
        token_ids=(CLS, 4895, 8976, 2204, SEP),
        attributions=(0.0, 0.1, 0.2, 0.3, 0.0),
        word_ids=(None, 0, 0, 1, None),
        words=("unbelievably", "good"),
        word_attributions=(0.3, 0.3),
        target=1,
        target_label="positive",
        probability=0.7,
        delta=0.01,
    )
    first = random_explanations([piece], seed=3)[0]
    assert first == random_explanations([piece], seed=3)[0]
    assert first.attributions != random_explanations([piece], seed=4)[0].attributions
    assert first.method == "random" and first.tokens == piece.tokens and first.delta is None
    assert first.word_attributions == pytest.approx(
        (first.attributions[1] + first.attributions[2], first.attributions[3])
    )


@pytest.fixture(scope="module")
def tiny():
    from ptm_bert.models import load_tiny_bert

    return load_tiny_bert(labels=("negative", "positive"))


def test_model_scorer_gives_probabilities_that_do_not_depend_on_padding(tiny):
    texts = ["a fine film", "a long, slow and thoroughly tedious film with nothing in it", "dull"]
    ids = [tiny.tokenizer(t)["input_ids"] for t in texts]
    scorer = model_scorer(tiny.model, tiny.tokenizer, batch_size=2)
    together = scorer(ids)
    assert together.shape == (3, 2)
    assert together.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-6)
    for row, one in zip(together, ids):
        assert np.abs(scorer([one])[0] - row).max() < 1e-5
    assert tiny.model.training  # scoring puts the model in eval mode and back


def gradient_x_input(tokenizer, texts):
    """An explain function for tests: gradient x input on the word embeddings, towards class 1."""
    import torch

    def explain(model):
        model.eval()
        out = []
        for text in texts:
            encoded = tokenizer(text, return_offsets_mapping=True)
            ids = torch.tensor([encoded["input_ids"]])
            embeddings = model.get_input_embeddings()(ids).detach().requires_grad_(True)
            logits = model(inputs_embeds=embeddings).logits[0]
            (grad,) = torch.autograd.grad(logits[1], embeddings)
            scores = (grad * embeddings).sum(-1)[0].tolist()
            word_ids = encoded.word_ids()
            words, word_scores = words_from_pieces(text, word_ids, encoded["offset_mapping"], scores)
            out.append(
                Explanation(
                    text=text,
                    method="gxi",
                    tokens=tuple(tokenizer.convert_ids_to_tokens(encoded["input_ids"])),
                    token_ids=tuple(encoded["input_ids"]),
                    attributions=tuple(scores),
                    word_ids=tuple(word_ids),
                    words=words,
                    word_attributions=word_scores,
                    target=1,
                    target_label="positive",
                    probability=float(logits.detach().softmax(-1)[1]),
                )
            )
        return out

    return explain


def test_cascading_randomization_decorrelates_and_leaves_the_model_alone(tiny):
    import torch

    model = tiny.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    explain = gradient_x_input(
        tiny.tokenizer,
        ["a warm and funny film", "the plot is dull and far too long", "great acting, weak script"],
    )

    stages = cascading_randomization(model, explain, seed=0)

    assert [s["stage"] for s in stages] == ["trained", "classifier+pooler", "layer.1", "layer.0", "embeddings"]
    assert stages[0]["spearman"] == 1.0 and stages[0]["spearman_abs"] == 1.0
    assert stages[-1]["spearman"] < 0.9
    assert all(-1.0 <= s["spearman"] <= 1.0 and not math.isnan(s["spearman_abs"]) for s in stages)
    assert stages == cascading_randomization(model, explain, seed=0)  # reproducible
    assert stages[1:] != cascading_randomization(model, explain, seed=1)[1:]  # and seeded
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training  # not even switched to eval mode


def test_plausibility_rewards_ranking_the_marked_words_first():
    words = ("This", "film", "Delivers,", "a", "great", "story.")
    perfect = record(range(1000, 1006), [0.1, 0.2, 0.9, 0.0, 0.8, 0.3], words=words)
    reversed_ = record(range(1000, 1006), [0.9, 0.8, 0.0, 0.7, 0.1, 0.6], words=words)
    rationale = ("delivers", "GREAT")

    best = plausibility([perfect], [rationale])
    assert best == {"auprc": 1.0, "token_f1": 1.0, "n": 1}
    worst = plausibility([reversed_], [rationale])
    assert worst["auprc"] < 0.5 and worst["token_f1"] == 0.0

    # Empty rationales and rationales with no word in the sentence are skipped.
    mixed = plausibility([perfect, reversed_, perfect], [rationale, (), ("absent",)])
    assert mixed == {"auprc": 1.0, "token_f1": 1.0, "n": 1}
    assert math.isnan(plausibility([perfect], [()])["auprc"])
    with pytest.raises(ConfigError, match="rationales"):
        plausibility([perfect], [])


def test_rank_agreement_is_one_for_the_same_ranking_and_negative_for_the_reverse():
    first = [record([1, 2, 3, 4], [0.1, 0.4, 0.2, 0.3]), record([5, 6, 7], [3.0, 1.0, 2.0])]
    scaled = [record([1, 2, 3, 4], [1.0, 4.0, 2.0, 3.0]), record([5, 6, 7], [30.0, 10.0, 20.0])]
    reverse = [record([1, 2, 3, 4], [0.4, 0.1, 0.3, 0.2]), record([5, 6, 7], [1.0, 3.0, 2.0])]
    assert rank_agreement(first, scaled) == pytest.approx(1.0)
    assert rank_agreement(first, reverse) == pytest.approx(-1.0)
    flat = [record([1, 2, 3, 4], [0.0] * 4), record([5, 6, 7], [1.0, 3.0, 2.0])]
    assert rank_agreement(first, flat) == pytest.approx((0.0 - 1.0) / 2)  # a constant vector counts as 0
    with pytest.raises(ConfigError, match="compare the same sentences"):
        rank_agreement(first, scaled[:1])
    other = [record([1, 2, 3, 4], [0.1, 0.4, 0.2, 0.3], words=("a", "b", "c", "d")), first[1]]
    with pytest.raises(ConfigError, match="explanations of different sentences"):
        rank_agreement(first, other)


def test_the_layers_come_from_the_models_plugin_and_a_record_without_them_is_one_line(tiny, ptm_manager):
    from toolkit import hookimpl
    from toolkit.faithfulness import model_layers
    from toolkit.registry import ModelSpec

    class Plugin:
        @hookimpl
        def ptm_register_models(self, register):
            register(ModelSpec(id="plain", summary="a model without layers", factory=lambda: None))

    ptm_manager.register(Plugin(), name="plain-plugin")
    try:
        with pytest.raises(ConfigError) as caught:
            model_layers(ptm_manager, "plain")
    finally:
        ptm_manager.unregister(name="plain-plugin")
    message = str(caught.value)
    assert message.startswith("model 'plain' (plugin 'plain-plugin') does not list its layers")
    assert "add layers= to its ModelSpec" in message and "\n" not in message

    # The built-in records name ptm_bert's layers; a run recorded as a folder resolves to 'bert'.
    explain = gradient_x_input(tiny.tokenizer, ["a warm and funny film", "a dull one"])
    by_record = cascading_randomization(tiny.model, explain, seed=0, layers=model_layers(ptm_manager, "/some/run"))
    assert by_record == cascading_randomization(tiny.model, explain, seed=0)
    import torch

    with pytest.raises(ConfigError, match=r"^model 'tiny-bert' \(plugin 'ptm_bert'\): its layers\(\) does not know a Linear"):
        cascading_randomization(torch.nn.Linear(2, 2), explain, layers=model_layers(ptm_manager, "tiny-bert"))
    with pytest.raises(ConfigError, match="^no model plugin lists the layers of a Linear"):
        cascading_randomization(torch.nn.Linear(2, 2), explain, pm=ptm_manager)
