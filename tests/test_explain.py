"""Explanations through Captum: equality with a direct Captum call, completeness, the other
methods, faithfulness against random attributions, the randomisation check, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from toolkit import pipeline
from toolkit.errors import ConfigError
from toolkit.explanations import Explanation

from test_train import FAST

METHODS = ("ig", "saliency", "input-x-gradient", "occlusion", "kernel-shap")


def _one_word_decides(root, n=320):
    """Sentences of neutral words where exactly one word carries the label."""
    good = ["great", "lovely", "superb", "wonderful", "excellent", "delightful"]
    bad = ["awful", "dreadful", "boring", "terrible", "horrible", "dismal"]
    openers = ["the", "this", "that", "our", "my"]
    nouns = ["film", "meal", "phone", "app", "show", "hotel", "book"]
    tails = ["", "today", "again", "overall", "in the end", "this week", "and that is all i can say"]
    rows = ["text\tlabel"]
    for i in range(n):
        word = (good if i % 2 else bad)[(i // 2) % 6]
        text = f"{openers[i % 5]} {nouns[i % 7]} was {word} {tails[i % 7]}".strip()
        rows.append(f"{text}\t{'pos' if i % 2 else 'neg'}")
    path = root / "one_word.tsv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny BERT that learned which word carries the label."""
    from toolkit.manager import create_plugin_manager

    pm = create_plugin_manager()
    root = tmp_path_factory.mktemp("explain")
    data = _one_word_decides(root)
    out = root / "run"
    metrics = pipeline.train(pm, model="tiny-bert", data=str(data), out=out,
                             **{**FAST, "epochs": 10, "lr": 3e-3, "batch_size": 16})
    assert metrics["accuracy"] >= 0.95
    return pm, out, data


@pytest.fixture(scope="module")
def tiny():
    from ptm_bert.models import load_tiny_bert

    loaded = load_tiny_bert(num_labels=2, labels=["neg", "pos"], seed=3)
    return loaded.model.eval(), loaded.tokenizer


def test_ig_equals_a_direct_captum_layer_integrated_gradients_call(tiny):
    import torch
    from captum.attr import LayerIntegratedGradients

    from ptm_captum.explainers import IntegratedGradientsExplainer

    model, tokenizer = tiny
    text = "an unexpectedly moving story"
    [ours] = IntegratedGradientsExplainer(model, tokenizer, n_steps=32).explain([text], target=1)

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    special = torch.tensor([[t in (tokenizer.cls_token_id, tokenizer.sep_token_id) for t in ids[0].tolist()]])
    baseline = torch.where(special, ids, torch.full_like(ids, tokenizer.pad_token_id))
    lig = LayerIntegratedGradients(lambda x: model(input_ids=x).logits, model.get_input_embeddings())
    direct, delta = lig.attribute(ids, baselines=baseline, target=1, n_steps=32, return_convergence_delta=True)
    expected = direct.sum(-1)[0]
    got = torch.tensor(ours.attributions)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert ours.delta == pytest.approx(float(delta), abs=1e-4)
    assert ours.tokens[0] == "[CLS]" and ours.tokens[-1] == "[SEP]"
    assert ours.words == ("an", "unexpectedly", "moving", "story")


@pytest.mark.parametrize("baseline", ["pad", "mask", "zero"])
def test_ig_attributions_add_up_to_the_logit_difference(tiny, baseline):
    """Completeness: with enough steps the attributions sum to f(input) - f(baseline)."""
    from ptm_captum.explainers import IntegratedGradientsExplainer

    model, tokenizer = tiny
    explainer = IntegratedGradientsExplainer(model, tokenizer, baseline=baseline, n_steps=300)
    [e] = explainer.explain(["the plot twists were clever, but the ending fell flat"])
    assert abs(e.delta) < 1e-3
    assert sum(e.word_attributions) == pytest.approx(sum(e.attributions), abs=1e-6)
    assert e.options["baseline"] == baseline and e.options["n_steps"] == 300


def test_delta_tolerance_raises_the_steps_until_every_sentence_meets_it(trained):
    from ptm_bert.trainer import FineTuner
    from ptm_captum.explainers import IntegratedGradientsExplainer

    fitter = FineTuner.from_saved(trained[1] / "model", device="cpu")
    model, tokenizer = fitter.model, fitter.tokenizer
    texts = ["the superb film was lovely", "a dismal, boring film that was neither great nor awful"]
    # A tiny model is smooth enough for Gauss-Legendre to be exact at 8 steps: the left
    # Riemann rule has an error to shrink.
    rule = "riemann_left"
    at_8 = IntegratedGradientsExplainer(model, tokenizer, n_steps=8, method=rule).explain(texts)
    tolerance = max(abs(e.delta) for e in at_8) / 10  # 8 steps miss it for one sentence at least
    assert tolerance > 1e-5  # a real integration error, not float noise
    explanations = IntegratedGradientsExplainer(
        model, tokenizer, delta_tolerance=tolerance, method=rule
    ).explain(texts)
    assert all(abs(e.delta) < tolerance for e in explanations)
    assert all(e.options["n_steps"] >= 8 for e in explanations)
    assert max(e.options["n_steps"] for e in explanations) > 8
    assert all(e.options["delta_tolerance"] == tolerance for e in explanations)


def test_a_large_convergence_delta_is_flagged_and_a_small_one_is_not(trained):
    import warnings

    from ptm_bert.trainer import FineTuner
    from ptm_captum.explainers import IntegratedGradientsExplainer
    from toolkit.errors import PtmWarning

    fitter = FineTuner.from_saved(trained[1] / "model", device="cpu")
    text = "the superb film was lovely"
    with pytest.warns(PtmWarning, match="of the logit difference .*raise --n-steps or set --delta-tolerance"):
        [rough] = IntegratedGradientsExplainer(fitter.model, fitter.tokenizer, n_steps=3, method="riemann_right").explain([text])
    assert abs(rough.delta) > 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", PtmWarning)
        [fine] = IntegratedGradientsExplainer(fitter.model, fitter.tokenizer, n_steps=300).explain([text])
    assert abs(fine.delta) < 0.01


def test_every_method_returns_the_same_record(tiny):
    from ptm_captum import explainers

    model, tokenizer = tiny
    text = "The soundtrack's brilliant, honestly."
    for cls in (explainers.IntegratedGradientsExplainer, explainers.SaliencyExplainer,
                explainers.InputXGradientExplainer, explainers.OcclusionExplainer,
                explainers.KernelShapExplainer):
        [e] = cls(model, tokenizer).explain([text], target="pos")
        assert isinstance(e, Explanation)
        assert e.target == 1 and e.target_label == "pos"
        assert len(e.tokens) == len(e.attributions) == len(e.word_ids) == len(e.token_ids)
        assert e.words == ("The", "soundtrack", "'", "s", "brilliant", ",", "honestly", ".")
        assert len(e.word_attributions) == len(e.words)
        in_words = [a for a, w in zip(e.attributions, e.word_ids) if w is not None]
        assert sum(e.word_attributions) == pytest.approx(sum(in_words), abs=1e-5)
        record = e.to_dict()
        assert json.loads(json.dumps(record))["method"] == e.method


def test_occlusion_scores_a_word_by_what_removing_it_costs(tiny):
    import torch

    from ptm_captum.explainers import OcclusionExplainer

    model, tokenizer = tiny
    [e] = OcclusionExplainer(model, tokenizer).explain(["dreadful acting"], target=0)
    ids = tokenizer("dreadful acting", return_tensors="pt")["input_ids"]
    word = e.words.index("acting")
    position = e.word_ids.index(word)
    removed = ids.clone()
    removed[0, position] = tokenizer.pad_token_id
    with torch.no_grad():
        full, without = model(input_ids=ids).logits[0, 0], model(input_ids=removed).logits[0, 0]
    assert e.word_attributions[word] == pytest.approx(float(full - without), abs=1e-5)


def test_bad_options_are_one_line_errors(tiny):
    from ptm_captum.explainers import IntegratedGradientsExplainer, SaliencyExplainer

    model, tokenizer = tiny
    with pytest.raises(ConfigError, match="baseline 'blank' is not one of pad, mask, zero"):
        IntegratedGradientsExplainer(model, tokenizer, baseline="blank")
    with pytest.raises(ConfigError, match="explainer 'saliency' has no option n_steps"):
        SaliencyExplainer(model, tokenizer, n_steps=10)
    with pytest.raises(ConfigError, match="target 'neutral' is not a label"):
        SaliencyExplainer(model, tokenizer).explain(["fine"], target="neutral")
    with pytest.raises(ConfigError, match="non-empty text"):
        SaliencyExplainer(model, tokenizer).explain([" "])


def test_ig_beats_random_attributions_and_fails_the_randomised_model(trained):
    """The reviews-style check on tiny data: IG deletes what the model relies on, random does
    not; and a re-initialised model's attributions no longer match the trained model's."""
    pm, out, data = trained
    result = pipeline.explain_evaluate(pm, out, data=str(data), methods=["ig", "saliency"],
                                       limit=40, sanity=8)
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"ig", "saliency", "random"}
    assert rows["ig"]["comprehensiveness"] > rows["random"]["comprehensiveness"] + 0.1
    assert rows["ig"]["sufficiency"] < rows["random"]["sufficiency"]
    stages = rows["ig"]["randomization"]
    assert stages[0] == {"stage": "trained", "spearman": 1.0, "spearman_abs": 1.0}
    assert stages[-1]["spearman"] < 0.5
    assert result["n"] == 40


def test_explain_runs_the_lifecycle_hooks(trained):
    from toolkit import hookimpl

    pm, out, _ = trained
    seen = []

    class Watcher:
        @hookimpl
        def ptm_before_explain(self, run, texts, method):
            seen.append(("before", method, len(texts)))

        @hookimpl
        def ptm_after_explain(self, run, texts, method, explanations):
            seen.append(("after", method, explanations[0].target_label))

    watcher = Watcher()
    pm.register(watcher, name="watcher")
    try:
        pipeline.explain(pm, out, ["the superb film was lovely"], method="saliency")
    finally:
        pm.unregister(watcher)
    assert seen == [("before", "saliency", 1), ("after", "saliency", "pos")]


def test_cli_explain_json_html_png_and_refusals(trained, ptm_cli, tmp_path):
    _, out, _ = trained
    result = ptm_cli("explain", str(out), "the superb film was lovely", "the dismal film was awful",
                     "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["target_label"] for r in records] == ["pos", "neg"]
    for key in ("tokens", "words", "attributions", "word_attributions", "target", "probability",
                "method", "delta", "options"):
        assert key in records[0]
    assert records[0]["options"] == {"baseline": "pad", "n_steps": 50, "integration": "gausslegendre"}
    # the sentiment word carries the most weight towards the predicted label
    assert max(zip(records[1]["word_attributions"], records[1]["words"]))[1] in ("dismal", "awful")

    text = ptm_cli("explain", str(out), "the superb film was lovely")
    assert text.exit_code == 0 and "pos (p=" in text.stdout and "superb(" in text.stdout
    assert text.stdout.splitlines()[-1].startswith("legend: word(+0.42) is the word's attribution to the label")

    png = tmp_path / "fig.png"
    made = ptm_cli("explain", str(out), "the superb film was lovely", "--format", "png", "--output", str(png))
    assert made.exit_code == 0, made.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    before = png.read_bytes()
    again = ptm_cli("explain", str(out), "lovely", "--format", "png", "--output", str(png))
    assert again.exit_code == 2 and "exists" in again.output and png.read_bytes() == before

    html = tmp_path / "e.html"
    made = ptm_cli("explain", str(out), "lovely <b>", "--method", "occlusion", "--format", "html",
                   "--output", str(html))
    assert made.exit_code == 0 and "<b>" not in html.read_text() and "&lt;" in html.read_text()

    tol = ptm_cli("explain", str(out), "the superb film was lovely", "--delta-tolerance", "0.001")
    assert tol.exit_code == 0 and "|delta| < 0.001" in tol.output

    nopng = ptm_cli("explain", str(out), "x", "--format", "png")
    assert nopng.exit_code == 2 and "--format png needs --output" in nopng.output
    unknown = ptm_cli("explain", str(out), "x", "--method", "shapley")
    assert unknown.exit_code == 2 and "explainer 'shapley' not found" in unknown.output
    wrong = ptm_cli("explain", str(out), "x", "--method", "saliency", "--n-steps", "5")
    assert wrong.exit_code == 2 and "has no option n_steps" in wrong.output


def test_cli_explain_evaluate_prints_the_table(trained, ptm_cli):
    _, out, data = trained
    result = ptm_cli("explain", "evaluate", str(out), "--data", str(data), "--methods", "ig,occlusion",
                     "--limit", "12", "--sanity", "0")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "comprehensiveness" in lines[0] and "sufficiency" in lines[0]
    assert [line.split()[0] for line in lines[1:4]] == ["ig", "occlusion", "random"]


def test_cli_explain_evaluate_passes_each_method_its_options(trained, ptm_cli):
    _, out, data = trained
    args = ["explain", "evaluate", str(out), "--data", str(data), "--methods", "ig,occlusion",
            "--limit", "6", "--sanity", "2", "--json"]
    result = ptm_cli(*args, "--option", "ig.n_steps=4", "--option", "occlusion.baseline=mask")
    assert result.exit_code == 0, result.output
    rows = {r["method"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["ig"]["options"] == {"n_steps": 4} and rows["occlusion"]["options"] == {"baseline": "mask"}
    # The option reaches the explainer (and the sanity check's): one it refuses stops the run.
    refused = ptm_cli(*args, "--option", "ig.n_steps=1")
    assert refused.exit_code == 2 and "--n-steps must be at least 2, got 1" in refused.output


def test_cli_option_reaches_a_plugin_explainer_with_its_own_options(trained, ptm_register, ptm_cli):
    from toolkit import hookimpl
    from toolkit.registry import ExplainerSpec, Option

    _, out, _ = trained
    made = []

    class ScaledSaliency:
        """A third-party explainer with an option of its own and a fixed signature."""

        def __init__(self, model, tokenizer, *, scale: float = 1.0):
            made.append(scale)
            self.inner = pipeline.make_explainer(trained[0], model, tokenizer, "saliency", {})
            self.scale = scale

        def explain(self, texts, *, target=None):
            return [replace(e, method="scaled", attributions=tuple(self.scale * a for a in e.attributions))
                    for e in self.inner.explain(texts, target=target)]

    class Plugin:
        @hookimpl
        def ptm_register_explainers(self, register):
            register(ExplainerSpec(id="scaled", summary="saliency times a number", factory=ScaledSaliency,
                                   options={"scale": Option(help="the factor", type=float, default="1.0")}))

    ptm_register(Plugin(), name="scaled-plugin")
    result = ptm_cli("explain", str(out), "the film was superb", "--method", "scaled", "--option", "scale=2",
                     "--format", "json")
    assert result.exit_code == 0, result.output
    assert made == [2.0] and isinstance(made[0], float)  # the record's type: a whole number becomes a float
    unknown = ptm_cli("explain", str(out), "the film", "--method", "scaled", "--option", "sharpness=2")
    assert unknown.exit_code == 2
    assert unknown.stderr == "ptm: explainer 'scaled' has no option sharpness (options: scale)\n"
    builtin = ptm_cli("explain", str(out), "the film", "--method", "scaled", "--n-steps", "8")
    assert builtin.exit_code == 2 and "has no option n_steps (options: scale)" in builtin.stderr
    typed = ptm_cli("explain", str(out), "the film", "--method", "scaled", "--option", "scale=much")
    assert typed.stderr == "ptm: scale takes a number, got 'much' (explainer 'scaled')\n"


def test_check_explainer_passes_every_builtin_and_names_a_broken_record(trained):
    from dataclasses import replace

    from ptm_bert.trainer import FineTuner
    from toolkit import hookimpl
    from toolkit.registry import ExplainerSpec
    from toolkit.testing import check_explainer

    pm = trained[0]
    fitter = FineTuner.from_saved(trained[1] / "model", device="cpu")
    for method in METHODS:
        assert len(check_explainer(pm, method, fitter.model, fitter.tokenizer)) == 2

    class DropsAToken:
        """Wraps saliency but loses the last token's score: the contract check must say so."""

        def __init__(self, model, tokenizer, **options):
            self.inner = pipeline.make_explainer(pm, model, tokenizer, "saliency", options)

        def explain(self, texts, *, target=None):
            return [replace(e, method="broken", attributions=e.attributions[:-1]) for e in self.inner.explain(texts, target=target)]

    class Plugin:
        @hookimpl
        def ptm_register_explainers(self, register):
            register(ExplainerSpec(id="broken", summary="loses a token", factory=DropsAToken))

    plugin = Plugin()
    pm.register(plugin, name="broken-plugin")
    try:
        with pytest.raises(AssertionError, match="broken on 'A warm, funny.*scores.*give one per token"):
            check_explainer(pm, "broken", fitter.model, fitter.tokenizer)
    finally:
        pm.unregister(plugin)


def test_explanation_from_scores_builds_words_and_refuses_a_wrong_count(tiny):
    from toolkit.explanations import explanation_from_scores

    _, tokenizer = tiny
    text = "Unbelievably good"
    n = len(tokenizer(text)["input_ids"])
    e = explanation_from_scores(text, tokenizer, [0.0] + [1.0] * (n - 2) + [0.0], method="m", target=1,
                                label_names=["neg", "pos"], probability=0.7)
    assert e.words == ("Unbelievably", "good") and e.word_attributions == (n - 3, 1.0)
    assert e.target_label == "pos" and e.tokens[0] == "[CLS]"
    with pytest.raises(ConfigError, match=f"2 scores for {n} tokens"):
        explanation_from_scores(text, tokenizer, [0.0, 1.0], method="m", target=1, label_names=["neg", "pos"], probability=0.7)
