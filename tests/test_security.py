"""A run folder is data someone may download or share: opening one never runs its code, and
its weights are trusted only when they match the SHA-256 recorded at training."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.cli import create_cli

# What a malicious run folder carries: a module that leaves a marker file when imported.
EVIL = """
from pathlib import Path
Path({marker!r}).write_text("the run's code ran")
from transformers import BertConfig as EvilConfig
from transformers import BertForSequenceClassification as EvilModel
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished tiny-bert run, and copies of it tampered in the ways an attacker would."""
    from toolkit.manager import create_plugin_manager

    root = tmp_path_factory.mktemp("security")
    data = root / "good.tsv"
    data.write_text("text\tlabel\n" + "".join(
        f"{w} film number {i}\t{int(w == 'great')}\n" for i, w in enumerate(["great", "awful"] * 10)))
    (root / "corpus.txt").write_text("the film was great .\nthe film was awful .\n" * 5)
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(create_cli(pm), ["train", "--model", "tiny-bert", "--data", str(data),
                                                 "--quiet", "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    marker = root / "outside" / "marker.txt"
    marker.parent.mkdir()

    def tampered(name: str, config_file: str) -> Path:
        run = root / name
        shutil.copytree(root / "run", run)
        path = run / "model" / config_file
        config = json.loads(path.read_text())
        config.pop("model_type", None)
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel",
                              "AutoTokenizer": ["evil.EvilTokenizer", None]}
        path.write_text(json.dumps(config))
        (run / "model" / "evil.py").write_text(EVIL.format(marker=str(marker)))
        return run

    tampered("auto_map", "config.json")
    tampered("tokenizer_auto_map", "tokenizer_config.json")
    return root


def _commands(run: Path, root: Path) -> dict[str, list[str]]:
    """Every command that opens a run folder's model, pointed at ``run``."""
    data, out = str(root / "good.tsv"), str(root / "new")
    return {
        "predict": ["predict", str(run), "a fine film"],
        "evaluate": ["evaluate", str(run), "--data", data],
        "explain": ["explain", str(run), "a fine film"],
        "explain evaluate": ["explain", "evaluate", str(run), "--data", data, "--limit", "2"],
        "privacy audit": ["privacy", "audit", str(run)],
        "train from the run": ["train", "--model", str(run), "--data", data, "--quiet", "--out", out],
        "train from its model folder": ["train", "--model", str(run / "model"), "--data", data, "--quiet", "--out", out],
        "pretrain from the run": ["pretrain", "--model", str(run), "--corpus", str(root / "corpus.txt"),
                                  "--steps", "1", "--quiet", "--out", out],
        "pretrain compare": ["pretrain", "compare", str(run), "--data", data, "--epochs", "1", "--quiet", "--out", out],
        "predict-mask": ["predict-mask", str(run), "the film was [MASK] ."],
        "report": ["report", str(run)],
    }


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("tamper", ["auto_map", "tokenizer_auto_map"])
@pytest.mark.parametrize("command", list(_commands(Path("r"), Path("x"))))
def test_a_run_with_custom_code_is_refused_and_its_code_never_runs(runs, tamper, command):
    from transformers.dynamic_module_utils import HF_MODULES_CACHE

    from toolkit.manager import create_plugin_manager

    # Where transformers copies a folder's module before importing it.
    modules = Path(HF_MODULES_CACHE)
    run = runs / tamper
    before = _snapshot(runs)
    cached = set(modules.rglob("*"))
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    # "y" answers transformers' "run the custom code?" prompt, were one ever shown.
    result = CliRunner().invoke(create_cli(pm), _commands(run, runs)[command], input="y\ny\n")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (command, result.output)
    assert len(lines) == 1 and "names custom code (auto_map), which ptm never runs" in lines[0], result.stderr
    assert not (runs / "outside" / "marker.txt").exists(), "the run's module was imported"
    assert set(modules.rglob("*")) == cached, "the run's module was copied out"
    assert "evil" not in sys.modules
    assert _snapshot(runs) == before, "files were written or changed"


def test_a_run_without_its_checksums_is_refused(runs, tmp_path, ptm_cli):
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    (run / "checksums.json").unlink()
    for args in (["predict", str(run), "fine"], ["predict-mask", str(run), "a [MASK] film"]):
        result = ptm_cli(*args)
        assert result.exit_code == 2
        assert "has no checksums.json (the SHA-256 of its weights), so its weights cannot be trusted" in result.stderr


def test_predict_mask_checks_the_weights_sha256(runs, tmp_path, ptm_cli):
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    weights = run / "model" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    result = ptm_cli("predict-mask", str(run), "a [MASK] film")
    assert result.exit_code == 2
    assert "does not match the SHA-256 recorded when it was trained" in result.stderr


def test_a_weight_file_the_record_does_not_name_is_refused(runs, tmp_path, ptm_cli):
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    shutil.copy(run / "model" / "model.safetensors", run / "model" / "extra.safetensors")
    result = ptm_cli("predict", str(run), "fine")
    assert result.exit_code == 2
    assert "extra.safetensors is not in the SHA-256 recorded when it was trained" in result.stderr


def test_every_transformers_load_refuses_remote_code_explicitly():
    """trust_remote_code=False is passed wherever ptm (and its tutorials' code) calls
    from_pretrained, so a config that asks for code is refused even where no folder check ran
    first (a hub id)."""
    import re

    import nbformat

    root = Path(__file__).resolve().parents[1]
    sources = {p: p.read_text() for folder in ("toolkit", "plugins", "examples", "benchmarks")
               for p in (root / folder).rglob("*.py")}
    for notebook in (root / "tutorials").glob("*.ipynb"):
        cells = nbformat.read(notebook, as_version=4).cells
        sources[notebook] = "\n".join(c.source for c in cells if c.cell_type == "code")
    calls = 0
    for path, text in sources.items():
        for match in re.finditer(r"\.from_pretrained\(", text):
            call = text[match.end():_call_end(text, match.end())]
            calls += 1
            assert "trust_remote_code=False" in call, f"{path.name}: from_pretrained({call[:60]}...)"
    assert calls >= 8


def _call_end(text: str, start: int) -> int:
    """The index of the parenthesis closing the call opened just before ``start``."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError("unclosed call")


def test_a_hub_model_that_asks_for_code_is_refused_in_one_line(monkeypatch):
    """A hub id is not a folder ptm can check first: transformers' own refusal (it is asked with
    trust_remote_code=False) becomes one line."""
    import transformers

    from ptm_bert import models
    from toolkit.errors import ConfigError

    asked = {}

    def from_pretrained(source, **kw):
        asked.update(kw)
        raise ValueError(f"{source} contains custom code which must be executed; set trust_remote_code=True")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", from_pretrained)
    with pytest.raises(ConfigError, match="model 'someone/custom-bert' needs custom code .auto_map., which ptm never runs"):
        models.load_ref(ref="someone/custom-bert")
    assert asked["trust_remote_code"] is False
