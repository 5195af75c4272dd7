"""Bad-input cases: models (see tests/catalogue.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from catalogue import UNWRITABLE, Case


def prepare(root: Path) -> None:
    """Write this part's broken files under ``root`` (the world of tests/test_bad_inputs.py,
    which already holds ``data/`` and a finished tiny-bert run ``run/``)."""
    from click.testing import CliRunner

    from toolkit.cli import create_cli
    from toolkit.manager import create_plugin_manager

    corpus = root / "m_corpus.txt"
    words = ["great", "awful", "dull", "fine", "superb", "poor"]
    corpus.write_text("".join(f"the film was {w} and the cast was {v} .\n" for w in words for v in words))
    (root / "m_list.json").write_text("[1, 2]")
    (root / "m_string.json").write_text('"x"')
    (root / "m_not_json.json").write_text("{hidden_size: 32")
    (root / "m_bad_value.json").write_text(json.dumps({"hidden_size": "wide", "num_hidden_layers": 2}))
    list_config = root / "m_list_config"
    shutil.copytree(root / "run", list_config)
    (list_config / "config.json").write_text("[1, 2]")
    unfinished = root / "m_list_config_unfinished"
    shutil.copytree(list_config, unfinished)
    (unfinished / "metrics.json").unlink()
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(create_cli(pm), ["pretrain", "--model", "tiny-bert", "--corpus", str(corpus),
                                                 "--steps", "2", "--quiet", "--out", str(root / "m_pretrained")])
    assert result.exit_code == 0, result.output


def cases(root: Path) -> dict[str, Case]:
    d, run, pretrained = root / "data", str(root / "run"), str(root / "m_pretrained")
    masked = "the film was [MASK] ."
    pretrain = ["pretrain", "--corpus", str(root / "m_corpus.txt"), "--steps", "2", "--quiet", "--out", str(root / "m_new")]
    under_a_file = str(d / "a_file" / "sub")
    return {
        # ptm pretrain: hyper-parameters and the tokenizer
        "vocab size below the corpus's alphabet": Case([*pretrain, "--tokenizer", "train", "--vocab-size", "3"],
                                                       "--vocab-size 3 is below this corpus's minimum of"),
        "zero vocab size": Case([*pretrain, "--tokenizer", "train", "--vocab-size", "0"], "--vocab-size must be positive, got 0"),
        "negative vocab size": Case([*pretrain, "--tokenizer", "train", "--vocab-size", "-5"],
                                    "--vocab-size must be positive, got -5"),
        "vocab size without a trained tokenizer": Case([*pretrain, "--vocab-size", "500"],
                                                       "add --tokenizer train, or drop --vocab-size"),
        "zero pretraining steps": Case([*pretrain[:3], "--steps", "0", *pretrain[5:]], "--steps must be positive, got 0"),
        "mlm probability above one": Case([*pretrain, "--mlm-probability", "1.5"],
                                          "--mlm-probability must be between 0 and 1, got 1.5"),
        "mlm probability zero": Case([*pretrain, "--mlm-probability", "0"], "--mlm-probability must be between 0 and 1, got 0.0"),
        # ptm pretrain --model CONFIG.json
        "model config is a list": Case([*pretrain, "--model", str(root / "m_list.json")],
                                       "m_list.json holds a JSON list, not an object of BERT settings"),
        "model config is a string": Case([*pretrain, "--model", str(root / "m_string.json")],
                                         "m_string.json holds a JSON string, not an object"),
        "model config is not json": Case([*pretrain, "--model", str(root / "m_not_json.json")], "is not valid JSON"),
        "model config with a wrong value": Case([*pretrain, "--model", str(root / "m_bad_value.json")],
                                                "does not describe a BERT (Validation error for field 'hidden_size'"),
        # ptm predict-mask
        "top-k past the vocabulary": Case(["predict-mask", pretrained, masked, "--top-k", "99999"],
                                          "--top-k 99999 exceeds the model's vocabulary of 30,522 tokens; give at most 30522"),
        "predict-mask on a file": Case(["predict-mask", str(d / "good.tsv"), masked], "good.tsv is a file, not a run folder"),
        "predict-mask on a missing run": Case(["predict-mask", str(root / "nowhere"), masked], "nowhere does not exist"),
        "predict-mask on a folder of data": Case(["predict-mask", str(d), masked], "is neither a ptm run nor a saved model folder"),
        "predict-mask on a classifier": Case(["predict-mask", run, masked], "has no masked-language-model head"),
        "predict-mask on a corrupt run": Case(["predict-mask", str(root / "corrupt"), masked], "metrics.json is corrupt (not JSON)"),
        "predict-mask on tampered weights": Case(["predict-mask", str(root / "tampered"), masked],
                                                 "does not match the SHA-256 recorded"),
        # where a notebook or a plugin is written
        "notebook into an unwritable folder": Case(["lesson", "notebook", "privacy", "--dest", UNWRITABLE],
                                                   f"cannot write into --dest {UNWRITABLE}"),
        "notebook into a file": Case(["lesson", "notebook", "privacy", "--dest", str(d / "a_file")], "a_file is a file; give a folder"),
        "notebook under a file": Case(["lesson", "notebook", "privacy", "--dest", under_a_file],
                                      f"lies under {d / 'a_file'}, which is a file"),
        "plugin into an unwritable folder": Case(["plugins", "new", "ptm-m", "--dest", UNWRITABLE],
                                                 f"cannot write into --dest {UNWRITABLE}"),
        "plugin into a file": Case(["plugins", "new", "ptm-m", "--dest", str(d / "a_file")], "a_file is a file; give a folder"),
        "plugin under a file": Case(["plugins", "new", "ptm-m", "--dest", under_a_file], f"lies under {d / 'a_file'}, which is a file"),
        "plugin name ending in a newline": Case(["plugins", "new", "ptm-m\n", "--dest", str(root / "m_plugins")],
                                                r"plugin name 'ptm-m\n' is not usable: use 1-40 lower-case letters"),
        "plugin name with a dot": Case(["plugins", "new", "ptm.m", "--dest", str(root / "m_plugins")],
                                       "plugin name 'ptm.m' is not usable"),
        "plugin name a keyword": Case(["plugins", "new", "import", "--dest", str(root / "m_plugins")],
                                      "gives the package import, a Python keyword"),
        "plugin name of an installed module": Case(["plugins", "new", "ptm-bert", "--dest", str(root / "m_plugins")],
                                                   "gives the package ptm_bert, which is already an installed module"),
        # ptm report
        "report of a folder that is not a run": Case(["report", str(d)], "is not a ptm run folder (no config.json or metrics.json from ptm)"),
        "report of a model folder": Case(["report", str(root / "run" / "model")], "is not a ptm run folder"),
        "report of a run whose config is a list": Case(["report", str(root / "m_list_config")],
                                                       "config.json holds a JSON list, not the object ptm writes"),
        "report of a run whose metrics are corrupt": Case(["report", str(root / "corrupt")], "metrics.json is corrupt (not JSON)"),
        "resume a run whose config is a list": Case(["train", "--resume", str(root / "m_list_config_unfinished")],
                                                    "config.json holds a JSON list, not the object ptm writes"),
        "evaluate a run whose config is a list": Case(["evaluate", str(root / "m_list_config"), "--data", str(d / "good.tsv")],
                                                      "config.json holds a JSON list, not the object ptm writes"),
        "predict with a run whose config is a list": Case(["predict", str(root / "m_list_config"), "fine"],
                                                          "config.json holds a JSON list, not the object ptm writes"),
    }
