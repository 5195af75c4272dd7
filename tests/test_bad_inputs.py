"""The catalogue of bad input: every case is an answer, not a traceback.

Each case runs one ``ptm`` command and asserts what a user sees: exit status 2, exactly one
line on stderr (``ptm: <problem>; <fix>``) with the expected words, no traceback, and nothing
created or changed that was there before. ``ptm --debug`` shows the traceback of every case.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path

import catalogue_data
import catalogue_models
import catalogue_privacy
import pytest
from catalogue import UNWRITABLE, Case
from click.testing import CliRunner

from toolkit import hookimpl
from toolkit.cli import create_cli

PARTS = (catalogue_data, catalogue_models, catalogue_privacy)


class RaisesInBeforeRun:
    @hookimpl
    def ptm_before_run(self, run):
        raise RuntimeError("the hook broke")


def _files(root: Path) -> Path:
    """Every kind of broken data file, and a good one."""
    data = root / "data"
    data.mkdir()
    (data / "good.tsv").write_text("text\tlabel\n" + "".join(
        f"{w} film number {i}\t{int(w == 'great')}\n" for i, w in enumerate(["great", "awful"] * 10)))
    (data / "empty.tsv").write_text("")
    (data / "binary.tsv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (data / "latin1.tsv").write_bytes("text\tlabel\nun film très réussi\t1\n".encode("latin-1"))
    (data / "truncated.tsv").write_text("text\tlabel\ngood film\t1\nbad fi")
    (data / "header.tsv").write_text("text\tlabel\n")
    (data / "no_text.csv").write_text("body,label\ngood,1\nbad,0\n")
    (data / "no_label.csv").write_text("text,stars\ngood,5\nbad,1\n")
    (data / "one_class.tsv").write_text("text\tlabel\n" + "".join(f"fine film {i}\t1\n" for i in range(10)))
    (data / "broken.jsonl").write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n{"text": "oops\n')
    (data / "other_labels.tsv").write_text("text\tlabel\ngood\tyes\nbad\tno\n")
    (data / "a_file").write_text("not a folder")
    return data


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished tiny-bert run, its broken copies, and the broken data files."""
    from toolkit.manager import create_plugin_manager

    root = tmp_path_factory.mktemp("bad")
    data = _files(root)
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(create_cli(pm), ["train", "--model", "tiny-bert", "--data", str(data / "good.tsv"),
                                                 "--quiet", "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    run = root / "run"
    corrupt = root / "corrupt"
    shutil.copytree(run, corrupt)
    (corrupt / "metrics.json").write_text("{not json")
    no_model = root / "no_model"
    shutil.copytree(run, no_model)
    shutil.rmtree(no_model / "model")
    (no_model / "model").mkdir()
    (no_model / "model" / "config.json").write_text((run / "model" / "config.json").read_text())
    tampered = root / "tampered"
    shutil.copytree(run, tampered)
    weights = tampered / "model" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    pickled = root / "pickled"
    shutil.copytree(run, pickled)
    (pickled / "model" / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    (root / "empty_dir").mkdir()
    (root / "link").symlink_to(run, target_is_directory=True)
    claimed = root / "claimed"
    shutil.copytree(run, claimed)
    (claimed / "metrics.json").unlink()
    # Held by a process that is alive (pid 1) on this machine: a run being written now.
    (claimed / ".ptm-claim").write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "started": "now",
                                                    "command": "ptm train"}))
    unrecorded = root / "unrecorded"
    shutil.copytree(run, unrecorded)
    (unrecorded / "checksums.json").unlink()
    coded = root / "coded"
    shutil.copytree(run, coded)
    config = json.loads((coded / "model" / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "code.Config"}
    (coded / "model" / "config.json").write_text(json.dumps(config))
    for part in PARTS:
        part.prepare(root)
    return root


def cases(root: Path) -> dict[str, Case]:
    """Every case: this module's own, then each part's."""
    found = _own_cases(root)
    for part in PARTS:
        for name, case in part.cases(root).items():
            assert name not in found, f"{part.__name__} repeats the case name {name!r}"
            found[name] = case
    return found


def _own_cases(root: Path) -> dict[str, Case]:
    d, run = root / "data", str(root / "run")
    out = str(root / "new_run")
    tiny = ["--model", "tiny-bert", "--quiet", "--out", out]
    return {
        # data files
        "missing file": Case(["train", "--data", str(d / "nope.tsv"), *tiny], "does not exist; check the path"),
        "empty file": Case(["train", "--data", str(d / "empty.tsv"), *tiny], "is empty; it needs a header line"),
        "binary file": Case(["train", "--data", str(d / "binary.tsv"), *tiny], "looks binary"),
        "wrong encoding": Case(["train", "--data", str(d / "latin1.tsv"), *tiny], "is not UTF-8 text (byte"),
        "truncated file": Case(["train", "--data", str(d / "truncated.tsv"), *tiny], "row 3 lacks a label value (a truncated file?)"),
        "header only": Case(["train", "--data", str(d / "header.tsv"), *tiny], "has a header but no rows"),
        "no text column": Case(["train", "--data", str(d / "no_text.csv"), *tiny], "has no text column"),
        "no label column": Case(["train", "--data", str(d / "no_label.csv"), *tiny], "has no label column"),
        "unnamed column": Case(["train", "--data", str(d / "good.tsv"), "--text-column", "body", *tiny],
                               "has no column 'body'; its columns are text, label"),
        "one class": Case(["train", "--data", str(d / "one_class.tsv"), *tiny], "has only one label"),
        "broken jsonl line": Case(["train", "--data", str(d / "broken.jsonl"), *tiny], "line 3 is not valid JSON"),
        "not a data format": Case(["train", "--data", str(d / "a_file"), *tiny], "Data can also be a .tsv, .csv, .jsonl or .conll file"),
        # unknown ids, with the closest ones
        "unknown model": Case(["train", "--model", "minilmm", "--out", out], "Did you mean 'minilm'?"),
        "unknown dataset": Case(["train", "--data", "reviewz", *tiny], "Did you mean 'reviews'?"),
        "unknown task": Case(["train", "--task", "text-clasification", *tiny], "Did you mean 'text-classification'?"),
        "unknown method": Case(["explain", run, "fine", "--method", "igg"], "Did you mean 'ig'?"),
        "unknown lesson": Case(["lesson", "run", "privcy"], "Did you mean 'privacy'?"),
        "unknown plugin": Case(["plugins", "list"], "names 'ptm_bertt', which is not an installed plugin. Did you mean 'ptm_bert'?",
                               env={"PTM_LOAD_PLUGINS": "ptm_bertt"}),
        "unknown command": Case(["trian"], "no command 'trian'. Did you mean 'train'?"),
        "unknown privacy": Case(["train", "--privacy", "dp-sdg", "--epsilon", "8", *tiny], "Did you mean 'dp-sgd'?"),
        "hub id offline": Case(["train", "--model", "bert-base-uncased", "--out", out], "offline (HF_HUB_OFFLINE=1) and not in the local cache"),
        # hyper-parameters
        "zero batch size": Case(["train", "--batch-size", "0", *tiny], "--batch-size must be positive, got 0"),
        "negative epochs": Case(["train", "--epochs", "-1", *tiny], "--epochs must be positive, got -1"),
        "zero learning rate": Case(["train", "--lr", "0", *tiny], "--lr must be positive, got 0.0; try 1e-4"),
        "max length too long": Case(["train", "--max-length", "9999", *tiny], "--max-length 9999 exceeds the model's limit of 512"),
        "too few ig steps": Case(["explain", run, "fine", "--n-steps", "1"], "--n-steps must be at least 2"),
        # privacy
        "epsilon zero": Case(["train", "--privacy", "dp-sgd", "--epsilon", "0", *tiny], "epsilon must be > 0"),
        "epsilon negative": Case(["train", "--privacy", "dp-sgd", "--epsilon", "-2", *tiny], "epsilon must be > 0"),
        "delta above one": Case(["train", "--privacy", "dp-sgd", "--epsilon", "8", "--delta", "1.5", *tiny], "delta must lie in (0, 1)"),
        "delta zero": Case(["train", "--privacy", "dp-sgd", "--epsilon", "8", "--delta", "0", *tiny], "delta must lie in (0, 1)"),
        "unreachable epsilon": Case(["train", "--data", str(d / "good.tsv"), "--privacy", "dp-sgd", "--epsilon", "0.001",
                                     "--delta", "1e-8", "--epochs", "50", "--batch-size", "16", *tiny],
                                    "cannot be reached with 18 examples"),
        # run folders
        "run folder exists": Case(["train", "--model", "tiny-bert", "--data", str(d / "good.tsv"), "--out", run],
                                  "already exists and is not empty; choose another --out or pass --overwrite"),
        "out is a file": Case(["train", "--model", "tiny-bert", "--data", str(d / "good.tsv"), "--out", str(d / "a_file")],
                              "is a file; choose a folder name"),
        "overwrite a folder ptm did not write": Case(
            ["train", "--data", str(d / "good.tsv"), "--model", "tiny-bert", "--out", str(d), "--overwrite"],
            "is not a ptm run folder (no config.json from ptm); --overwrite only replaces run folders"),
        "run folder missing": Case(["predict", str(root / "nowhere"), "fine"], "does not exist; give the --out of a ptm train run"),
        "not a run": Case(["predict", str(root / "empty_dir"), "fine"], "is not a finished run (status: empty)"),
        "corrupt run": Case(["predict", str(root / "corrupt"), "fine"], "metrics.json is corrupt (not JSON); train the run again"),
        "run without weights": Case(["evaluate", str(root / "no_model"), "--data", str(d / "good.tsv")], "lacks its model weights"),
        "tampered weights": Case(["predict", str(root / "tampered"), "fine"], "does not match the SHA-256 recorded when it was trained"),
        "pickled weights": Case(["explain", str(root / "pickled"), "fine"], "holds pickled weights (pytorch_model.bin); ptm reads safetensors only"),
        "resume a finished run": Case(["train", "--resume", run], "has finished; there is nothing to resume"),
        "labels differ": Case(["evaluate", run, "--data", str(d / "other_labels.tsv")], "has labels ['no', 'yes'] but the model"),
        # text to predict or explain
        "empty text to predict": Case(["predict", run, " "], "give at least one non-empty text to predict"),
        "empty text to explain": Case(["explain", run, ""], "give at least one non-empty text to explain"),
        "unknown target": Case(["explain", run, "fine", "--target", "maybe"], "target 'maybe' is not a label of this model"),
        # explainer options
        "option without a value": Case(["explain", run, "fine", "--option", "n_steps"], "--option 'n_steps' is not NAME=VALUE"),
        "option given twice": Case(["explain", run, "fine", "--n-steps", "8", "--option", "n-steps=9"],
                                   "n_steps is given both as --n-steps and as --option; give it once"),
        "unknown explainer option": Case(["explain", "evaluate", run, "--data", str(d / "good.tsv"), "--methods", "ig",
                                          "--option", "ig.foo=1", "--limit", "2", "--sanity", "0"],
                                         "explainer 'ig' has no option foo"),
        "option of a method not evaluated": Case(["explain", "evaluate", run, "--data", str(d / "good.tsv"), "--methods", "ig",
                                                  "--option", "occlusion.baseline=mask"],
                                                 "options are given for occlusion, which is not among the methods evaluated"),
        "explained method twice": Case(["explain", "evaluate", run, "--data", str(d / "good.tsv"), "--methods", "ig,occlusion,ig"],
                                       "--methods lists ig twice; give each method once"),
        # where a run goes, and who holds it
        "out under a file": Case(["train", "--data", str(d / "good.tsv"), *tiny[:-1], str(d / "a_file" / "run")],
                                 "a_file/run: "),
        "out not writable": Case(["train", "--data", str(d / "good.tsv"), *tiny[:-1], f"{UNWRITABLE}/run"],
                                 "choose a folder you can write"),
        "out a symlink": Case(["train", "--data", str(d / "good.tsv"), *tiny[:-1], str(root / "link"), "--overwrite"],
                              "is a symbolic link (to"),
        "out held by a running process": Case(["train", "--data", str(d / "good.tsv"), *tiny[:-1], str(root / "claimed"),
                                               "--overwrite"], "is being written by ptm process 1 on"),
        "resume a run being written": Case(["train", "--resume", str(root / "claimed")], "is being written by ptm process 1"),
        # what a run folder holds
        "weights without their record": Case(["evaluate", str(root / "unrecorded"), "--data", str(d / "good.tsv")],
                                             "has no checksums.json (the SHA-256 of its weights)"),
        "run with custom code": Case(["explain", str(root / "coded"), "fine"], "names custom code (auto_map), which ptm never runs"),
        "compare with a data file": Case(["pretrain", "compare", str(d / "good.tsv"), "--out", out],
                                         "is not a pretrained model or run folder; give the --out of ptm pretrain"),
        "compare with a tampered run": Case(["pretrain", "compare", str(root / "coded"), "--out", out],
                                            "names custom code (auto_map)"),
        "pickled weights to fill masks": Case(["predict-mask", str(root / "pickled"), "a [MASK] film"], "holds pickled weights"),
        # click's own usage errors, one line each
        "unknown option": Case(["train", "--epoch", "2"], "train: no such option '--epoch'. (Did you mean one of: '--epochs', '--epsilon'?); see 'ptm train --help'"),
        "not a number": Case(["train", "--epochs", "two"], "train: invalid value for '--epochs': 'two' is not a valid integer; see"),
        "missing argument": Case(["predict"], "predict: missing argument 'RUN_DIR'; see 'ptm predict --help'"),
        "unknown root option": Case(["--verbose"], "no such option '--verbose'. Did you mean '--version'? see 'ptm --help'"),
        "extra argument": Case(["lesson", "list", "privacy"], "lesson list: got unexpected extra argument (privacy)"),
        "unknown hooks option": Case(["plugins", "hooks", "--html"], "plugins hooks: no such option '--html'"),
        "unknown lesson to show": Case(["lesson", "show", "explainablity"], "Did you mean 'explainability' or"),
        "nothing to grade": Case(["lesson", "grade", str(root / "nowhere")], "nowhere"),
        "grade a data file": Case(["lesson", "grade", str(d / "good.tsv")], "good.tsv"),
        # plugins
        "plugin raises in a hook": Case(["train", "--data", str(d / "good.tsv"), *tiny],
                                        "plugin 'tp-raises' failed in hook ptm_before_run: RuntimeError: the hook broke",
                                        plugin=RaisesInBeforeRun()),
        "plugin name taken": Case(["plugins", "new", "ptm-x", "--dest", str(root)], ""),  # filled in below
    }


CASE_IDS = list(cases(Path("/x")))


def _invoke(case: Case, monkeypatch, debug: bool = False):
    from toolkit.manager import create_plugin_manager

    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    pm = None
    if not case.env:
        pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
        if case.plugin is not None:
            pm.register(case.plugin, name="tp-raises")
    return CliRunner().invoke(create_cli(pm), (["--debug"] if debug else []) + case.args, input=case.stdin)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", CASE_IDS)
def test_bad_input_is_one_line_on_stderr_and_exit_2(world, name, monkeypatch):
    case = cases(world)[name]
    if name == "plugin name taken":
        (world / "ptm-x").mkdir(exist_ok=True)
        case.message = "already exists; choose another name or --dest"
    before = _snapshot(world)
    result = _invoke(case, monkeypatch)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (name, result.output)
    assert len(lines) == 1 and lines[0].startswith("ptm: "), (name, result.stderr)
    assert case.message in lines[0], (name, lines[0])
    assert "Traceback" not in result.output
    if case.plugin is not None:
        # The run had started when the hook failed: its folder says so, nothing else changed.
        started = world / "new_run"
        assert json.loads((started / "metrics.json").read_text())["status"] == "failed"
        shutil.rmtree(started)
    assert _snapshot(world) == before, f"{name}: files were written or changed"


def test_the_catalogue_has_at_least_thirty_cases():
    assert len(CASE_IDS) >= 30


@pytest.mark.parametrize("name", CASE_IDS)
def test_debug_shows_the_traceback(world, name, monkeypatch):
    case = cases(world)[name]
    if name == "plugin name taken":
        (world / "ptm-x").mkdir(exist_ok=True)
    result = _invoke(case, monkeypatch, debug=True)
    shutil.rmtree(world / "new_run", ignore_errors=True)
    # The error goes through to Python, which prints its traceback (CliRunner keeps it in
    # exc_info instead); errors raised by the CLI itself print theirs before the one line.
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    if "Usage: ptm" in result.stderr and "\nError: " in result.stderr:
        # Click's own usage errors: --debug shows click's text (Usage, Try, Error) as it is.
        assert result.exit_code == 2
        return
    assert escaped or "Traceback (most recent call last)" in result.output, (name, result.output[-500:])
    assert escaped or result.exit_code == 2


def test_debug_prints_the_traceback_in_a_real_terminal(tmp_path):
    import subprocess
    import sys

    ptm = str(Path(sys.executable).parent / "ptm")
    args = ["train", "--model", "tiny-bert", "--batch-size", "0", "--out", str(tmp_path / "r")]
    debug = subprocess.run([ptm, "--debug", *args], capture_output=True, text=True)
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().endswith("ConfigError: --batch-size must be positive, got 0")


def test_overwrite_never_deletes_the_folder_you_are_in(world, monkeypatch, ptm_cli):
    monkeypatch.chdir(world / "run")
    result = ptm_cli("train", "--model", "tiny-bert", "--out", ".", "--overwrite")
    assert result.exit_code == 2
    assert "holds the current folder; --overwrite will not delete it" in result.stderr
    assert (world / "run" / "model" / "model.safetensors").is_file()


def test_run_names_stay_inside_their_folder(tmp_path):
    from toolkit.errors import ConfigError
    from toolkit.runs import child

    assert child(tmp_path, "privacy-quick") == tmp_path / "privacy-quick"
    for name in ("../escape", "/etc", "a/b", "..", "", "c:\\x"):
        with pytest.raises(ConfigError, match="is not a plain folder name"):
            child(tmp_path, name)


def test_the_embedded_weights_are_checked_before_loading(monkeypatch):
    from ptm_bert import models
    from toolkit.errors import ConfigError

    monkeypatch.setattr(models, "MINILM_SHA256", "0" * 64)
    monkeypatch.setattr(models, "_verified", set())
    with pytest.raises(ConfigError, match="do not match their recorded SHA-256 .* pip install --force-reinstall"):
        models.load_minilm()


def test_no_code_sets_trust_remote_code_or_unpickles():
    root = Path(__file__).resolve().parents[1]
    sources = [p for folder in ("toolkit", "plugins", "examples", "benchmarks") for p in (root / folder).rglob("*.py")]
    assert len(sources) > 30
    for path in sources:
        text = path.read_text()
        assert "trust_remote_code=True" not in text, path
        assert "pickle.load" not in text and "torch.load(" not in text, path


def test_long_and_odd_text_is_read_not_refused(world, ptm_cli):
    run = str(world / "run")
    long_text = "word " * 10_000
    predicted = ptm_cli("predict", run, long_text, "--json")
    assert predicted.exit_code == 0, predicted.output
    assert "1 of 1 texts are longer than 128 tokens" in predicted.stderr
    assert "has 10,002): the model reads only the first 128" in predicted.stderr
    odd = ["这部电影很好看 😀", "الفيلم رائع جدا", "Фильм отличный!", "🎬🍿👍", "naïve café – “quoted”"]
    for method in ("ig", "occlusion"):
        explained = ptm_cli("explain", run, *odd, "--method", method, "--format", "json")
        assert explained.exit_code == 0, explained.output
        records = json.loads(explained.stdout)
        assert [r["text"] for r in records] == odd
        assert records[0]["words"][:2] == ["这", "部"] and records[0]["words"][-1] == "😀"
        assert records[3]["tokens"] == ["[CLS]", "[UNK]", "[SEP]"] and records[3]["words"] == ["🎬🍿👍"]
    long_explained = ptm_cli("explain", run, long_text, "--format", "json")
    assert long_explained.exit_code == 0
    assert len(json.loads(long_explained.stdout)[0]["tokens"]) == 128


def _leaves(group, path=()):
    """Every command a user can run, as its words after ``ptm``."""
    import click

    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield " ".join((*path, name))


def _command_of(group, args) -> str:
    """The command a case's arguments run (``""`` for the root's own errors)."""
    import click

    path = []
    for arg in args:
        if not isinstance(group, click.Group):
            break
        command = group.commands.get(arg)
        if command is None:
            default = getattr(group, "default_command", None)  # `ptm explain RUN TEXT`
            if default is None:
                break
            command, arg = group.commands[default], default
        path.append(arg)
        group = command
    if isinstance(group, click.Group) and getattr(group, "default_command", None):
        path.append(group.default_command)
    return " ".join(path)


def test_every_command_has_a_bad_input_case(world):
    """Walks the whole CLI, plugins' commands included: a command no case reaches fails here."""
    cli = create_cli()
    cli.plugin_manager()
    leaves = set(_leaves(cli))
    assert {"train", "predict-mask", "privacy audit", "lesson grade", "explain text"} <= leaves
    covered = {_command_of(cli, case.args) for case in cases(world).values()}
    missing = sorted(leaves - covered)
    assert not missing, f"commands without a bad-input case in the catalogue: {missing}"
