"""Third-party plugins: examples/ptm-pairs installed with pip, `ptm plugins new`, and the
sentence-pair contract of the core (tasks with two inputs, --task, --pair)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit import hookimpl
from toolkit.data import Example, TextDataset
from toolkit.errors import ConfigError, PluginLoadError
from toolkit.registry import DatasetSpec, TaskSpec
from toolkit.testing import check_dataset, check_explainer, check_model, check_task

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def pip_install(folder: Path, site: Path) -> None:
    """pip-install a plugin folder into ``site`` (offline: no build isolation, no dependencies;
    ptm-toolkit is already here), so the installation does not leak into other tests."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(folder)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def run(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "PTM_STRICT_PLUGINS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)


@pytest.mark.slow
def test_ptm_pairs_installs_lists_and_passes_its_suite(tmp_path):
    site = tmp_path / "site"
    pip_install(ROOT / "examples" / "ptm-pairs", site)
    listed = run([str(BIN / "ptm"), "plugins", "list", "--json"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "ptm_pairs"]
    assert (row["distribution"], row["status"], row["builtin"]) == ("ptm-pairs", "loaded", False)
    assert row["ids"] == {"dataset": ["pairs-file", "paraphrases"], "task": ["pairs"]}
    # Its own suite trains, evaluates, predicts and explains tiny-bert on pairs through the CLI.
    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 str(ROOT / "examples" / "ptm-pairs" / "tests")], site, tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "5 passed" in tests.stdout


@pytest.mark.slow
def test_plugins_new_writes_a_package_that_installs_and_passes_its_tests(ptm_cli, tmp_path):
    made = ptm_cli("plugins", "new", "ptm-hello", "--dest", str(tmp_path))
    assert made.exit_code == 0, made.output
    folder = tmp_path / "ptm-hello"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md", "ptm_hello/__init__.py", "pyproject.toml", "tests/test_plugin.py"]
    assert 'ptm_hello = "ptm_hello"' in (folder / "pyproject.toml").read_text()
    site = tmp_path / "site"
    pip_install(folder, site)
    listed = run([str(BIN / "ptm"), "plugins", "list"], site, tmp_path)
    assert "ptm_hello 0.1.0 (ptm-hello): loaded" in listed.stdout, listed.stdout + listed.stderr
    assert "dataset: hello-demo" in listed.stdout
    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
                site, tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "3 passed" in tests.stdout


def test_plugins_new_refuses_a_bad_name_and_an_existing_folder(ptm_cli, tmp_path):
    bad = ptm_cli("plugins", "new", "My Plugin", "--dest", str(tmp_path))
    assert bad.exit_code == 2
    assert "plugin name 'My Plugin' is not usable" in bad.output
    (tmp_path / "ptm-mine").mkdir()
    (tmp_path / "ptm-mine" / "notes.txt").write_text("mine")
    taken = ptm_cli("plugins", "new", "ptm-mine", "--dest", str(tmp_path))
    assert taken.exit_code == 2
    assert "already exists" in taken.output
    assert [p.name for p in (tmp_path / "ptm-mine").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ptm-mine"]  # no staging left behind


# -- the sentence-pair contract, with a pair task registered in-process ----------------------

PAIRS = [("the cat sat", "the cat sat down"), ("a red car", "a blue boat"),
         ("good food", "good food here"), ("cold rain", "hot sun")] * 6


class PairPlugin:
    @hookimpl
    def ptm_register_tasks(self, register):
        register(TaskSpec(id="tp-pairs", summary="two texts", inputs=("text", "text_pair"), data="tp-pair-data"))

    @hookimpl
    def ptm_register_datasets(self, register):
        def load():
            rows = [Example(text=a, text_pair=b, label=int(b.startswith(a.split()[0])))
                    for a, b in PAIRS]
            return TextDataset(name="tp-pair-data", label_names=("no", "yes"),
                               splits={"train": rows[:20], "test": rows[20:]}, task="tp-pairs")

        register(DatasetSpec(id="tp-pair-data", summary="pairs", factory=load, task="tp-pairs"))


@pytest.fixture
def pairs_run(ptm_register, ptm_cli, tmp_path):
    ptm_register(PairPlugin())
    out = tmp_path / "pairs-run"
    result = ptm_cli("train", "--task", "tp-pairs", "--model", "tiny-bert", "--epochs", "1", "--quiet",
                     "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_a_pair_task_trains_on_its_own_data_and_predicts_pairs(pairs_run, ptm_cli):
    config = json.loads((pairs_run / "config.json").read_text())
    assert (config["task"], config["data"]) == ("tp-pairs", "tp-pair-data")
    result = ptm_cli("predict", str(pairs_run), "the cat sat", "cold rain",
                     "--pair", "the cat sat down", "--pair", "hot sun", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["text_pair"] for r in rows] == ["the cat sat down", "hot sun"]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in rows)


def test_pair_inputs_are_checked_with_one_line_errors(pairs_run, ptm_cli, tmp_path):
    cases = {
        ("predict", str(pairs_run), "the cat sat"): "which takes two texts (text, text_pair): give --pair TEXT",
        ("predict", str(pairs_run), "a", "b", "--pair", "c"): "2 texts but 1 non-empty --pair texts",
        ("explain", str(pairs_run), "a", "--pair", " "): "1 texts but 1 non-empty --pair texts",
        ("evaluate", str(pairs_run), "--data", "reviews"): "labelled for task 'text-classification', not 'tp-pairs'",
        ("train", "--task", "tp-pairs", "--data", "reviews", "--model", "tiny-bert", "--out", str(tmp_path / "x")):
            "data 'reviews' is labelled for task 'text-classification', not 'tp-pairs'; try --data tp-pair-data",
        ("train", "--task", "tp-pair", "--model", "tiny-bert", "--out", str(tmp_path / "y")):
            "Did you mean 'tp-pairs'",
    }
    for args, message in cases.items():
        result = ptm_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_pair_explanations_cover_both_segments(pairs_run, ptm_cli):
    result = ptm_cli("explain", str(pairs_run), "the cat sat", "--pair", "the cat sat down", "--format", "json")
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.output)
    assert record["words"] == ["the", "cat", "sat", "the", "cat", "sat", "down"]
    assert record["word_segments"] == [0, 0, 0, 1, 1, 1, 1]
    assert record["tokens"] == ["[CLS]", "the", "cat", "sat", "[SEP]", "the", "cat", "sat", "down", "[SEP]"]
    # Completeness holds with the token type ids in the forward pass: the delta is tiny.
    assert abs(record["delta"]) < 1e-3
    text = ptm_cli("explain", str(pairs_run), "the cat sat", "--pair", "the cat sat down")
    assert "sat(" in text.output and ") [SEP] the(" in text.output


def test_every_builtin_explainer_keeps_the_contract_on_pairs(ptm_manager, ptm_tiny_model):
    texts, seconds = ["The soup was cold.", "A long, slow film."], ["The soup was not warm.", "It dragged on."]
    for method, options in [("ig", {}), ("saliency", {}), ("input-x-gradient", {}), ("occlusion", {}),
                            ("kernel-shap", {"n_samples": 16})]:
        check_explainer(ptm_manager, method, ptm_tiny_model.model, ptm_tiny_model.tokenizer,
                        texts, text_pairs=seconds, **options)


def test_the_faithfulness_scorer_gives_a_pair_its_token_types(ptm_tiny_model):
    import torch

    from toolkit.faithfulness import model_scorer

    model, tokenizer = ptm_tiny_model.model, ptm_tiny_model.tokenizer
    with torch.no_grad():  # make the segment embeddings, and the head, matter
        model.bert.embeddings.token_type_embeddings.weight[1].normal_(0, 2.0)
        model.classifier.weight.normal_(0, 5.0)
    encoded = tokenizer("the soup was cold", "it was not warm", return_tensors="pt")
    with torch.no_grad():
        expected = model(**encoded).logits.softmax(-1)[0].numpy()
        ignored = model(input_ids=encoded["input_ids"]).logits.softmax(-1)[0].numpy()
    got = model_scorer(model, tokenizer)([encoded["input_ids"][0].tolist()])[0]
    assert abs(got - expected).max() < 1e-5
    assert abs(ignored - expected).max() > 1e-3  # the check above could fail


def test_an_explainer_without_pair_support_is_refused_by_name(pairs_run, ptm_register, ptm_cli):
    class OneText:
        def __init__(self, model, tokenizer, **options):
            pass

        def explain(self, texts, *, target=None):
            raise AssertionError("never called")

    class Plugin:
        @hookimpl
        def ptm_register_explainers(self, register):
            from toolkit.registry import ExplainerSpec

            register(ExplainerSpec(id="tp-one", summary="one text only", factory=OneText))

    ptm_register(Plugin())
    result = ptm_cli("explain", str(pairs_run), "a b", "--pair", "c d", "--method", "tp-one")
    assert result.exit_code == 2
    assert "explainer 'tp-one' explains one text at a time, not sentence pairs" in result.output


def test_a_task_takes_one_or_two_inputs(ptm_register, ptm_manager):
    class Plugin:
        @hookimpl
        def ptm_register_tasks(self, register):
            register(TaskSpec(id="tp-three", summary="three texts", inputs=("a", "b", "c")))

    with pytest.raises(PluginLoadError, match="inputs \\['a', 'b', 'c'\\]: a task takes one text or a pair"):
        ptm_register(Plugin())
        ptm_manager.registry  # noqa: B018


# -- toolkit.testing's contract checks -------------------------------------------------------


def test_contract_checks_pass_the_builtins(ptm_manager, ptm_tiny_data):
    assert check_task(ptm_manager, "text-classification").data == "reviews"
    assert check_dataset(ptm_manager, "reviews").label_names == ("negative", "positive")
    fitter = check_model(ptm_manager, "tiny-bert", label_names=("a", "b", "c"))
    assert fitter.model.config.num_labels == 3
    assert ptm_tiny_data.label_counts() == {"negative": 12, "positive": 12}


@pytest.mark.parametrize(
    "rows, message",
    [
        ([Example(text="fine", label=0), Example(text="bad", label=2)], "label 2 is not an index"),
        ([Example(text="fine", label=0), Example(text=" ", label=1)], "empty text"),
        ([Example(text="fine", label=0), Example(text="x", label=1, text_pair="y")], "takes one text but text_pair"),
        ([Example(text="fine", label=0), Example(text="also fine", label=0)], "fewer than two labels"),
    ],
)
def test_check_dataset_names_what_a_broken_dataset_gets_wrong(ptm_register, ptm_manager, rows, message):
    class Plugin:
        @hookimpl
        def ptm_register_datasets(self, register):
            register(DatasetSpec(
                id="tp-broken", summary="broken",
                factory=lambda: TextDataset(name="b", label_names=("n", "p"), splits={"all": rows})))

    ptm_register(Plugin())
    with pytest.raises(AssertionError, match=message):
        check_dataset(ptm_manager, "tp-broken")


def test_check_model_refuses_an_unknown_model(ptm_manager):
    with pytest.raises(ConfigError):
        check_model(ptm_manager, "no-such-model-anywhere")


def test_the_plugin_guide_shows_every_hook_and_the_two_examples():
    from toolkit import hookspecs

    guide = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("ptm_")]
    assert len(hooks) == 23
    missing = [hook for hook in hooks if f"`{hook}`" not in guide]
    assert not missing, f"docs/plugins.md does not show {missing}"
    for needed in ("ptm plugins new", "examples/ptm-pairs", "check_dataset", "PTM_STRICT_PLUGINS", "twine"):
        assert needed in guide, needed
    assert "(docs/plugins.md)" in (ROOT / "README.md").read_text()
