"""Explanations of a trained run's predictions: attributions per token for some texts
(``explain``), and the faithfulness of several explainers compared on labelled data
(``explain_evaluate``), firing the lifecycle hooks."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from toolkit.context import RunContext
from toolkit.errors import ConfigError, PtmError
from toolkit.explanations import Explanation
from toolkit.inference import check_inputs, open_run, run_task
from toolkit.lifecycle import run_scope
from toolkit.loading import check_task, load_data
from toolkit.manager import PtmPluginManager
from toolkit.protocols import Explainer, conform
from toolkit.registry import ExplainerSpec


def make_explainer(pm: PtmPluginManager, model: Any, tokenizer: Any, method: str,
                   options: dict[str, Any]) -> Any:
    """The explainer ``method`` for a model (``None`` options mean "the method's default").

    The options are checked against those the method's record declares
    (:attr:`~toolkit.registry.ExplainerSpec.options`): an unknown name or a bad value is a
    ``ConfigError`` naming the method, before the explainer is made.
    """
    spec = pm.registry.get(ExplainerSpec, method)
    options = spec.check_options({k: v for k, v in options.items() if v is not None})
    return conform(spec.load()(model, tokenizer, **options), Explainer,
                   f"explainer '{method}' of plugin '{spec.plugin}'")


def _explain(pm: PtmPluginManager, explainer: Any, run: RunContext, texts: list[str], method: str,
             target: int | str | None, text_pairs: list[str] | None = None) -> list[Explanation]:
    with run.events.explain(texts, method) as report:
        if text_pairs is None:
            explanations = list(explainer.explain(texts, target=target))
        else:
            if "text_pairs" not in inspect.signature(explainer.explain).parameters:
                raise ConfigError(
                    f"explainer '{method}' explains one text at a time, not sentence pairs; "
                    "use one that does (ig, saliency, input-x-gradient, occlusion, kernel-shap)"
                )
            explanations = list(explainer.explain(texts, target=target, text_pairs=text_pairs))
        bad = [type(e).__name__ for e in explanations if not isinstance(e, Explanation)]
        if bad:
            raise PtmError(f"explainer '{method}' returned {bad[0]}, not a toolkit Explanation")
        report.explanations = explanations
    return explanations


def explain(
    pm: PtmPluginManager,
    run_dir: str | Path,
    texts: Sequence[str],
    *,
    method: str = "ig",
    target: int | str | None = None,
    text_pairs: Sequence[str] | None = None,
    word: int | str | None = None,
    device: str = "auto",
    **options: Any,
) -> list[Explanation]:
    """Explain a trained run's prediction for each text with explainer ``method``.

    ``options`` go to the explainer (``n_steps``, ``baseline``, ``delta_tolerance``, ...);
    ``target`` (class index or label) defaults to the predicted class. For a run of a
    sentence-pair task, ``text_pairs`` gives each text's second text, and the attributions
    cover both. For a run of a per-word task (tagging), ``word`` (its index among the text's
    words, or the word itself) is the word whose tag is explained; the explanation's
    ``focus`` is that word's index.
    """
    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise ConfigError("give at least one non-empty text to explain")
    pm.registry.get(ExplainerSpec, method)
    pairs = list(text_pairs) if text_pairs else None
    folder, fitter = open_run(pm, run_dir, device=device)
    task = run_task(pm, folder)
    check_inputs(task, texts, pairs)
    per_word = task.labels == "per-word"
    if per_word and word is None:
        raise ConfigError(
            f"the model was trained for task '{task.id}', which tags each word: say which word's "
            "tag to explain with --word N (0 is the first word) or --word WORD"
        )
    if word is not None and not per_word:
        raise ConfigError(f"--word applies to runs that tag words; task '{task.id}' labels whole texts")
    if per_word:
        # One explainer per text: each sees the model as the classifier of its word's piece.
        focus = [fitter.word_position(text, word) for text in texts]
        explainers = [make_explainer(pm, fitter.word_view(position), fitter.tokenizer, method, options)
                      for _, position in focus]
    else:
        explainers = [make_explainer(pm, fitter.model, fitter.tokenizer, method, options)]
    config = {"run": str(folder.path), "method": method, "target": target, "options": options,
              **({"word": word} if per_word else {})}
    with run_scope("explain", config, hooks=pm.hooks, device=fitter.device) as scope:
        run = scope.run
        run.model, run.tokenizer = fitter.model, fitter.tokenizer
        if per_word:
            explanations = [
                replace(_explain(pm, explainer, run, [text], method, target)[0], focus=index)
                for explainer, text, (index, _) in zip(explainers, texts, focus)
            ]
        else:
            explanations = _explain(pm, explainers[0], run, texts, method, target, pairs)
        scope.result = {"explained": len(explanations)}
    return explanations


# Sentences per explainer call in explain_evaluate: small enough for the progress bar to move.
_EVALUATE_CHUNK = 8


def explain_evaluate(
    pm: PtmPluginManager,
    run_dir: str | Path,
    *,
    data: str,
    methods: Sequence[str] = ("ig", "saliency", "input-x-gradient", "occlusion"),
    limit: int | None = 100,
    sanity: int = 16,
    seed: int = 0,
    device: str = "auto",
    text_column: str | None = None,
    label_column: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Faithfulness, plausibility and the randomisation check of several explainers on ``data``.

    Each method explains the first ``limit`` texts of the data's evaluation split (the
    predicted class is the target), with its explainer made from ``options[method]``
    (``{"ig": {"n_steps": 16}}``; a method not named takes its defaults). Rows: ERASER comprehensiveness (higher is better) and
    sufficiency (lower is better) with a random-attribution row as the floor, agreement with
    human rationales where the data has them, seconds per sentence, and, on the first
    ``sanity`` texts, the rank correlation with the attributions of a fully re-initialised
    model (near 0 is what a method that depends on the model shows). ``progress`` shows a bar
    counting the sentences explained (this takes minutes for several methods).
    """
    from tqdm.auto import tqdm

    from toolkit import faithfulness as ff
    from toolkit.progress import bar_options

    if not methods:
        raise ConfigError("give at least one method to evaluate (e.g. --methods ig,saliency)")
    for method in methods:
        pm.registry.get(ExplainerSpec, method)
    options = {method: dict(given) for method, given in (options or {}).items()}
    stray = sorted(set(options) - set(methods))
    if stray:
        raise ConfigError(
            f"options are given for {', '.join(stray)}, which is not among the methods evaluated "
            f"({', '.join(methods)}); add it to --methods or drop its options"
        )
    folder, fitter = open_run(pm, run_dir, device=device)
    task = run_task(pm, folder)
    if task.labels != "per-text":
        raise ConfigError(
            f"explain evaluate scores explanations of a text's class; the run's task '{task.id}' labels "
            f"{'each word' if task.labels == 'per-word' else 'with numbers'}: explain one word with ptm explain RUN TEXT --word N"
        )
    dataset = load_data(pm, data, text_column=text_column, label_column=label_column)
    check_task(task, dataset, data)
    examples = dataset.evaluation_split()
    if limit is not None:
        if limit <= 0:
            raise ConfigError(f"--limit must be a positive number of sentences, got {limit}")
        examples = examples[:limit]
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples] if examples and examples[0].text_pair is not None else None
    rationales = [e.rationale for e in examples]
    has_rationales = any(rationales)
    scorer = ff.model_scorer(fitter.model, fitter.tokenizer)
    def row(name: str, explanations: list[Explanation], seconds: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": name,
            "options": options.get(name, {}),
            "comprehensiveness": ff.comprehensiveness(scorer, explanations),
            "sufficiency": ff.sufficiency(scorer, explanations),
            "seconds_per_sentence": None if seconds is None else seconds / len(explanations),
        }
        if has_rationales:
            out.update({f"plausibility_{k}": v for k, v in ff.plausibility(explanations, rationales).items()})
        return out

    # Made before anything shows: a bad option is one line, not a line after a progress bar.
    explainers = {m: make_explainer(pm, fitter.model, fitter.tokenizer, m, options.get(m, {})) for m in methods}
    rows = []
    sample = texts[: min(sanity, len(texts))] if sanity else []
    # The randomisation check adds its sentences to the total as it goes (one pass per stage).
    bar = tqdm(total=len(methods) * len(texts), unit="sentence", desc="explain evaluate", **bar_options(progress))
    config = {"run": str(folder.path), "data": data, "methods": list(methods)}
    with run_scope("explain", config, hooks=pm.hooks, device=fitter.device) as scope, _closing(bar):
        run = scope.run
        run.model, run.tokenizer = fitter.model, fitter.tokenizer
        first: list[Explanation] = []
        for method in methods:
            bar.set_description(f"{method}: faithfulness")
            explainer = explainers[method]
            started = time.perf_counter()
            explanations = []
            for i in range(0, len(texts), _EVALUATE_CHUNK):  # in chunks, so the bar moves
                chunk = texts[i : i + _EVALUATE_CHUNK]
                explanations += _explain(pm, explainer, run, chunk, method, None,
                                         pairs[i : i + _EVALUATE_CHUNK] if pairs else None)
                bar.update(len(chunk))
            rows.append(row(method, explanations, time.perf_counter() - started))
            first = first or explanations
            if sample:
                bar.set_description(f"{method}: randomisation check")
                sample_pairs = {"text_pairs": pairs[: len(sample)]} if pairs else {}

                def explain_with(model: Any, explainer_id: str = method) -> list[Explanation]:
                    other = make_explainer(pm, model, fitter.tokenizer, explainer_id, options.get(explainer_id, {}))
                    bar.total += len(sample)
                    explained = list(other.explain(sample, **sample_pairs))
                    bar.update(len(sample))
                    return explained

                stages = ff.cascading_randomization(
                    fitter.model, explain_with, seed=seed,
                    layers=ff.model_layers(pm, folder.read_json("config.json").get("model")))
                rows[-1]["randomization"] = stages
                rows[-1]["randomized_spearman"] = stages[-1]["spearman"]
        rows.append(row("random", ff.random_explanations(first, seed=seed), None))
        scope.result = {"run": str(folder.path), "data": data, "n": len(texts), "rows": rows}
    return scope.result


@contextmanager
def _closing(bar: Any) -> Iterator[Any]:
    """Close a progress bar however the block ends."""
    try:
        yield bar
    finally:
        bar.close()
