"""How far an attribution can be trusted: faithfulness, plausibility and a sanity check.

Three questions, three families of tests, all on :class:`toolkit.explanations.Explanation` records:

- faithful to the model? ERASER's comprehensiveness and sufficiency (DeYoung et al., ACL 2020):
  delete, or keep only, the most attributed tokens and watch the target probability move;
  :func:`random_explanations` is the baseline every method must beat.
- plausible to a person? agreement with human rationales (:func:`plausibility`).
- about the model at all? cascading model randomisation (Adebayo et al., NeurIPS 2018): an
  explanation that survives the model's weights being replaced by noise explains nothing.

Models are only ever reached through a :data:`Scorer`, so that every perturbed sentence of every
explanation goes to the model in one batched call.
"""

from __future__ import annotations

import copy
import math
import string
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.explanations import Explanation

Scorer = Callable[[list[list[int]]], np.ndarray]
"""Token-id sequences (each with its [CLS]/[SEP]) -> class probabilities, shape (n, num_classes)."""

Layers = Callable[[Any], "Sequence[tuple[str, Callable[[], None]]] | None"]
"""A model plugin's ``ModelSpec.layers``: a model -> its parts as ``(name, reinitialise)`` pairs,
head first, in the order :func:`cascading_randomization` re-initialises them; ``None`` for a
model the plugin does not know."""

ERASER_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5)

# Straight and typographic quotes, dashes and ellipses that cling to words as written.
_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb\u2013\u2014\u2026"


def model_scorer(model: Any, tokenizer: Any, *, batch_size: int = 64) -> Scorer:
    """A :data:`Scorer` for a Hugging Face sequence classifier.

    Each call pads the sequences with the tokenizer's pad id (and an attention mask), runs the
    model in eval mode under ``torch.inference_mode`` on the model's device, in batches of
    ``batch_size`` sequences of similar length, and returns softmax probabilities as a numpy
    array in the order given. The model's train/eval mode is restored afterwards.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if tokenizer.pad_token_id is None:
        raise ConfigError("the tokenizer has no pad token; set tokenizer.pad_token before scoring")

    takes_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    sep = getattr(tokenizer, "sep_token_id", None) if takes_types else None

    def score(sequences: list[list[int]]) -> np.ndarray:
        import torch

        out = np.empty((len(sequences), model.config.num_labels), dtype=np.float64)
        if not sequences:
            return out
        # Sorting by length keeps the padding, and so the wasted compute, small in every batch.
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = order[start : start + batch_size]
                    batch = tokenizer.pad([_features(sequences[i], sep) for i in rows], return_tensors="pt")
                    logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
                    out[rows] = logits.float().softmax(-1).cpu().numpy()
        finally:
            model.train(was_training)
        return out

    return score


def _features(ids: list[int], sep: int | None) -> dict[str, list[int]]:
    """A sequence for the model, with token type ids where the model takes them: for a
    sentence pair ([CLS] a [SEP] b [SEP]) 1 after the first [SEP], as the tokenizer marks the
    second segment; 0 everywhere for one text."""
    ids = list(ids)
    if sep is None:
        return {"input_ids": ids}
    first = ids.index(sep) if ids.count(sep) >= 2 else len(ids)
    return {"input_ids": ids, "token_type_ids": [int(i > first) for i in range(len(ids))]}


# ---------------------------------------------------------------------------------------------
# Faithfulness (ERASER)
# ---------------------------------------------------------------------------------------------


def comprehensiveness(
    scorer: Scorer,
    explanations: Sequence[Explanation],
    fractions: Sequence[float] = ERASER_FRACTIONS,
) -> float:
    """How much the target probability drops when the most attributed tokens are deleted.

    For each fraction k, the top ``ceil(k * n)`` (at least one) of a sentence's ``n`` non-special
    tokens, ranked by attribution towards the target, are removed from the sequence, and the
    score is ``p_target(full) - p_target(without them)``, averaged over the fractions (the AOPC of
    the deletion curve at those points) and then over sentences. Higher is more faithful. The full
    probability is re-scored with ``scorer``, not read from ``Explanation.probability``.
    """
    full, perturbed = _target_probabilities(scorer, explanations, _fractions(fractions), keep=False)
    return float(np.mean(full[:, None] - perturbed))


def sufficiency(
    scorer: Scorer,
    explanations: Sequence[Explanation],
    fractions: Sequence[float] = ERASER_FRACTIONS,
) -> float:
    """How much the target probability drops when only the most attributed tokens are kept.

    Same ranking and fractions as :func:`comprehensiveness`, but the sequence keeps only the top
    tokens plus the special tokens, in their original order; the score is
    ``p_target(full) - p_target(only them)``, averaged over fractions and sentences. Lower is
    more faithful (it can be negative when the top tokens alone are more convincing).
    """
    full, perturbed = _target_probabilities(scorer, explanations, _fractions(fractions), keep=True)
    return float(np.mean(full[:, None] - perturbed))


def deletion_curve(scorer: Scorer, explanations: Sequence[Explanation], steps: int = 10) -> list[float]:
    """Mean target probability after deleting the top 0, 1/steps, ..., 100% of non-special tokens.

    Returns ``steps + 1`` values, for plotting against ``numpy.linspace(0, 1, steps + 1)``: the first
    is the mean full probability, the last that of ``[CLS] [SEP]`` alone. A faithful explanation's
    curve falls steeply at first.
    """
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, not {steps}")
    points = [i / steps for i in range(steps + 1)]
    _, perturbed = _target_probabilities(scorer, explanations, points, keep=False)
    return [float(p) for p in perturbed.mean(axis=0)]


def random_explanations(explanations: Sequence[Explanation], seed: int = 0) -> list[Explanation]:
    """The same records with seeded standard-normal attributions: the baseline to beat.

    Every non-special token gets a random score (special tokens 0), words get the sum of their
    tokens' scores, ``method`` becomes ``"random"`` and ``options`` records the seed. The same
    seed gives the same scores.
    """
    rng = np.random.default_rng(seed)
    out = []
    for explanation in explanations:
        noise = rng.standard_normal(len(explanation.token_ids))
        scores = tuple(
            float(z) if word is not None else 0.0 for z, word in zip(noise, explanation.word_ids)
        )
        out.append(
            replace(
                explanation,
                method="random",
                attributions=scores,
                word_attributions=_word_sums(explanation.word_ids, scores),
                delta=None,
                options={"seed": seed},
            )
        )
    return out


def _fractions(fractions: Sequence[float]) -> list[float]:
    values = [float(f) for f in fractions]
    if not values or any(not 0 < f <= 1 for f in values):
        raise ConfigError(f"fractions must be a non-empty list of numbers in (0, 1], not {list(fractions)}")
    return values


def _top_count(fraction: float, n: int) -> int:
    """How many of ``n`` tokens a fraction selects: the ceiling, at least one (none for 0)."""
    if fraction <= 0 or n == 0:
        return 0
    # The tolerance keeps float error from rounding up exact products (0.07 * 100 is 7.000000000000001).
    return min(n, max(1, math.ceil(fraction * n - 1e-9)))


def _ranked_positions(explanation: Explanation) -> list[int]:
    """Positions of the non-special tokens, most attributed towards the target first."""
    positions = [i for i, word in enumerate(explanation.word_ids) if word is not None]
    scores = np.asarray([explanation.attributions[i] for i in positions], dtype=np.float64)
    return [positions[j] for j in np.argsort(-scores, kind="stable")]


def _target_probabilities(
    scorer: Scorer, explanations: Sequence[Explanation], fractions: Sequence[float], *, keep: bool
) -> tuple[np.ndarray, np.ndarray]:
    """p_target of each full sentence (n,), and of each perturbed one (n, len(fractions)).

    Every sequence of every sentence goes to the scorer in one call; repeats (short sentences
    where several fractions select the same tokens) are scored once.
    """
    # Hand-written rather than captum.metrics: ERASER deletes tokens, and the loop is the lesson.
    if not explanations:
        raise ConfigError("no explanations to score; give at least one")
    unique: dict[tuple[int, ...], int] = {}

    def index(ids: Sequence[int]) -> int:
        return unique.setdefault(tuple(int(i) for i in ids), len(unique))

    full_rows, perturbed_rows = [], []
    for explanation in explanations:
        ids = explanation.token_ids
        full_rows.append(index(ids))
        ranked = _ranked_positions(explanation)
        row = []
        for fraction in fractions:
            top = set(ranked[: _top_count(fraction, len(ranked))])
            if keep:
                kept = [t for i, t in enumerate(ids) if i in top or explanation.word_ids[i] is None]
            else:
                kept = [t for i, t in enumerate(ids) if i not in top]
            row.append(index(kept))
        perturbed_rows.append(row)

    probabilities = np.asarray(scorer([list(ids) for ids in unique]), dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != len(unique):
        raise ConfigError(
            f"the scorer returned shape {probabilities.shape} for {len(unique)} sequences; "
            "it must return one row of class probabilities per sequence"
        )
    targets = np.asarray([e.target for e in explanations])
    full = probabilities[full_rows, targets]
    perturbed = probabilities[np.asarray(perturbed_rows), targets[:, None]]
    return full, perturbed


def _word_sums(word_ids: Sequence[int | None], scores: Sequence[float]) -> tuple[float, ...]:
    """One score per word, the sum of its tokens', in word order (as ``words_from_pieces``)."""
    sums: dict[int, float] = {}
    for word, score in zip(word_ids, scores):
        if word is not None:
            sums[word] = sums.get(word, 0.0) + float(score)
    return tuple(sums[w] for w in sorted(sums))


# ---------------------------------------------------------------------------------------------
# Plausibility
# ---------------------------------------------------------------------------------------------


def plausibility(explanations: Sequence[Explanation], rationales: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Agreement of word attributions with the words people marked (``Example.rationale``).

    Words match case-insensitively, ignoring punctuation around them (``"Delivers,"`` matches
    ``"delivers"``); every occurrence of a rationale word in the sentence counts as marked.
    Returns a dict with

    - ``auprc``: mean average precision of the word attributions at finding the marked words;
    - ``token_f1``: mean F1 between the top-k words by attribution and the marked words, k the
      number of marked words in the sentence;
    - ``n``: the number of sentences used. Sentences with an empty rationale, or none of whose
      words match it, are skipped; with none left the scores are NaN.
    """
    from sklearn.metrics import average_precision_score, f1_score

    if len(explanations) != len(rationales):
        raise ConfigError(f"{len(explanations)} explanations but {len(rationales)} rationales; give one each")
    auprcs, f1s = [], []
    for explanation, rationale in zip(explanations, rationales):
        marked = {_normalise(part) for phrase in rationale for part in phrase.split()} - {""}
        if not marked:
            continue
        truth = np.asarray([_normalise(word) in marked for word in explanation.words], dtype=int)
        if not truth.any():
            continue
        scores = np.asarray(explanation.word_attributions, dtype=np.float64)
        top = np.argsort(-scores, kind="stable")[: int(truth.sum())]
        predicted = np.zeros_like(truth)
        predicted[top] = 1
        auprcs.append(average_precision_score(truth, scores))
        f1s.append(f1_score(truth, predicted, zero_division=0.0))
    return {
        "auprc": float(np.mean(auprcs)) if auprcs else math.nan,
        "token_f1": float(np.mean(f1s)) if f1s else math.nan,
        "n": len(auprcs),
    }


def _normalise(word: str) -> str:
    return word.strip(_PUNCTUATION).casefold()


# ---------------------------------------------------------------------------------------------
# Model randomisation (Adebayo et al.)
# ---------------------------------------------------------------------------------------------


def cascading_randomization(
    model: Any,
    explain: Callable[[Any], list[Explanation]],
    *,
    seed: int = 0,
    layers: Layers | None = None,
    pm: Any = None,
) -> list[dict[str, Any]]:
    """Re-initialise a copy of ``model`` from the top down and watch the explanations change.

    ``explain(m)`` must explain the same sentences, in the same order, with model ``m``. The
    stages come from the model's plugin: ``layers`` (a ``ModelSpec.layers``, e.g.
    ``model_layers(pm, "minilm")``), or else the first model record of ``pm`` (by default the
    installed plugins) whose ``layers`` knows this model. Stages, cumulative: ``"trained"`` (a
    copy of the model as given), then each part the plugin names, head first (for a BERT
    classifier of ptm_bert ``"classifier+pooler"``, ``"layer.<i>"`` from last to first, ``"embeddings"``),
    each re-initialised by the plugin with torch's generator seeded from ``seed`` and the stage.
    Returns one dict per stage: ``stage``, ``spearman`` (mean over sentences of the Spearman
    correlation between the word attributions of the trained and the randomised model; a
    constant vector counts as 0) and ``spearman_abs`` (the same on absolute values). A
    trustworthy method's correlations fall towards 0 as layers go. The model passed in is never
    modified (it is not even put in eval mode).
    """
    import torch

    if layers is None:
        layers = _layers_for(model, pm)
    randomised = copy.deepcopy(model)
    stages = list(layers(randomised) or [])
    if not stages:
        raise ConfigError(
            f"the model plugin's layers() lists no parts of this {type(model).__name__} to re-initialise; "
            "the randomisation check needs at least one (fix the plugin's ModelSpec layers)"
        )

    reference = explain(randomised)
    results: list[dict[str, Any]] = [{"stage": "trained", "spearman": 1.0, "spearman_abs": 1.0}]
    device = next(randomised.parameters()).device
    # Hand-written: the cumulative top-down loop is the experiment Adebayo et al. describe.
    for number, (name, reinitialise) in enumerate(stages, start=1):
        # fork_rng leaves the caller's random state as it was; the seed makes each stage reproducible.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed * 1_000 + number)
            reinitialise()
        current = explain(randomised)
        if len(current) != len(reference):
            raise ConfigError(
                f"explain gave {len(current)} explanations at stage '{name}' but {len(reference)} "
                "for the trained model; it must explain the same sentences every time"
            )
        pairs = [(_word_vector(a), _word_vector(b)) for a, b in zip(reference, current)]
        results.append(
            {
                "stage": name,
                "spearman": float(np.mean([_spearman(a, b) for a, b in pairs])),
                "spearman_abs": float(np.mean([_spearman(np.abs(a), np.abs(b)) for a, b in pairs])),
            }
        )
    return results


def model_layers(pm: Any, ref: str | None) -> Layers:
    """The ``layers`` of the model record that ``ref`` (an id, or a path a record claims, as a
    run's config.json records ``model``) resolves to, for :func:`cascading_randomization`.

    Raises:
        ConfigError: no reference, or the record declares no ``layers``: one line naming the
            model's plugin and what it must add.
    """
    from toolkit.registry import ModelSpec, resolve_factory

    if not ref:
        raise ConfigError(
            "the run records no model, so the randomisation check cannot ask its plugin for the "
            "layers; pass --sanity 0 to skip the check"
        )
    record, _ = pm.registry.resolve(ModelSpec, str(ref))
    if record.layers is None:
        raise ConfigError(
            f"model '{record.id}' (plugin '{record.plugin}') does not list its layers, which the "
            "randomisation check re-initialises; add layers= to its ModelSpec, or pass --sanity 0 to skip the check"
        )
    return _known(resolve_factory(record.layers), record.id, record.plugin)


def _known(layers: Layers, model_id: str, plugin: str) -> Layers:
    """``layers``, refusing in one line a model it does not know."""

    def stages(model: Any) -> Any:
        found = layers(model)
        if found is None:
            raise ConfigError(
                f"model '{model_id}' (plugin '{plugin}'): its layers() does not know a "
                f"{type(model).__name__}; the plugin must list that model's layers"
            )
        return found

    return stages


def _layers_for(model: Any, pm: Any) -> Layers:
    """The ``layers`` of the first model record of ``pm`` (default: the installed plugins) that
    knows ``model``."""
    from toolkit.registry import ModelSpec, resolve_factory

    if pm is None:
        from toolkit.manager import create_plugin_manager

        pm = create_plugin_manager()
    asked = []
    for record in pm.registry.records(ModelSpec):
        if record.layers is None or record.layers in asked:
            continue
        asked.append(record.layers)
        layers = resolve_factory(record.layers)
        if layers(model) is not None:
            return layers
    raise ConfigError(
        f"no model plugin lists the layers of a {type(model).__name__}, which the randomisation "
        "check re-initialises; give layers= (a ModelSpec's layers), or add layers= to the "
        "ModelSpec of the plugin that makes this model"
    )


def rank_agreement(first: Sequence[Explanation], second: Sequence[Explanation]) -> float:
    """How alike two sets of explanations of the same sentences rank the words.

    The mean over sentences of Spearman's rho between the word attributions of ``first[i]`` and
    ``second[i]`` (two models, two methods or two baselines); 1 is the same ranking, 0 unrelated.
    A constant vector or a one-word sentence counts as 0.
    """
    if len(first) != len(second):
        raise ConfigError(f"{len(first)} and {len(second)} explanations: compare the same sentences")
    if not first:
        raise ConfigError("no explanations to compare")
    for a, b in zip(first, second):
        if a.text != b.text:
            raise ConfigError(f"explanations of different sentences cannot be compared: '{a.text[:40]}' and '{b.text[:40]}'")
    return float(np.mean([_spearman(_word_vector(a), _word_vector(b)) for a, b in zip(first, second)]))


def _word_vector(explanation: Explanation) -> np.ndarray:
    return np.asarray(explanation.word_attributions, dtype=np.float64)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho, 0 where it is undefined (a constant vector, fewer than two words)."""
    from scipy.stats import spearmanr

    if len(a) != len(b):
        raise ConfigError(f"word attributions of different lengths ({len(a)} and {len(b)}) cannot be compared")
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    rho = spearmanr(a, b).statistic
    return 0.0 if np.isnan(rho) else float(rho)
