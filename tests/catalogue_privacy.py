"""Bad-input cases: privacy (see tests/catalogue.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from catalogue import Case


def prepare(root: Path) -> None:
    """Write this part's broken files under ``root`` (the world of tests/test_bad_inputs.py,
    which already holds ``data/`` and a finished tiny-bert run ``run/``): a private run and
    copies of it whose metrics.json is damaged, a run whose training data has gone, and data
    files too small or labelled otherwise for an audit."""
    from click.testing import CliRunner

    from toolkit.cli import create_cli
    from toolkit.manager import create_plugin_manager

    d = root / "data"
    private = root / "p_private"
    pm = create_plugin_manager(env={"PTM_STRICT_PLUGINS": "1"})
    result = CliRunner().invoke(create_cli(pm), ["train", "--model", "tiny-bert", "--data", str(d / "good.tsv"),
                                                 "--privacy", "dp-sgd", "--epsilon", "8", "--epochs", "1",
                                                 "--quiet", "--out", str(private)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((private / "metrics.json").read_text())
    damage = {
        "p_no_noise_record": lambda m: m.pop("noise_multiplier"),
        "p_steps_as_text": lambda m: m.update(steps="ten"),
        "p_negative_steps": lambda m: m.update(steps=-3),
        "p_zero_sample_rate": lambda m: m.update(sample_rate=0),
    }
    for name, change in damage.items():
        shutil.copytree(private, root / name)
        damaged = json.loads(json.dumps(metrics))
        change(damaged)
        (root / name / "metrics.json").write_text(json.dumps(damaged))
    moved = root / "p_moved_data"
    shutil.copytree(root / "run", moved)
    config = json.loads((moved / "config.json").read_text())
    config["data"] = str(d / "p_moved_away.tsv")
    (moved / "config.json").write_text(json.dumps(config))
    (d / "p_one_member.tsv").write_text("text\tlabel\ngreat film number 1\t1\n")
    (d / "p_one_non_member.tsv").write_text("text\tlabel\nawful film number 99\t0\n")
    (d / "p_forty.tsv").write_text("text\tlabel\n" + "".join(
        f"{w} movie {i}\t{int(w == 'great')}\n" for i, w in enumerate(["great", "awful"] * 20)))


def cases(root: Path) -> dict[str, Case]:
    d, run = root / "data", str(root / "run")
    forty = ["--members", str(d / "p_forty.tsv"), "--non-members", str(d / "p_forty.tsv")]
    sweep = ["privacy", "sweep", "--model", "tiny-bert", "--data", str(d / "good.tsv"), "--quiet",
             "--out", str(root / "p_sweep")]
    mechanism = ["privacy", "mechanism", "--data", str(d / "good.tsv")]
    train = ["train", "--model", "tiny-bert", "--data", str(d / "good.tsv"), "--quiet", "--out", str(root / "new_run"),
             "--privacy", "dp-sgd", "--epsilon", "8"]
    damaged = "(damaged?); train the run again"
    return {
        # accountants: what metrics.json records of the mechanism
        "privacy accountants of a non-private run": Case(
            ["privacy", "accountants", run], "the run was trained without --privacy, so there is no budget to account for"),
        "privacy accountants of a folder that is no run": Case(
            ["privacy", "accountants", str(root / "empty_dir")], "is not a finished run (status: empty)"),
        "privacy accountants without the noise record": Case(
            ["privacy", "accountants", str(root / "p_no_noise_record")], f"metrics.json lacks noise_multiplier {damaged}"),
        "privacy accountants with steps as text": Case(
            ["privacy", "accountants", str(root / "p_steps_as_text")],
            f'metrics.json records steps "ten", not a whole number >= 1 {damaged}'),
        "privacy accountants with negative steps": Case(
            ["privacy", "accountants", str(root / "p_negative_steps")],
            f"metrics.json records steps -3, not a whole number >= 1 {damaged}"),
        "privacy accountants with a zero sample rate": Case(
            ["privacy", "accountants", str(root / "p_zero_sample_rate")],
            f"metrics.json records sample_rate 0, not a number in (0, 1] {damaged}"),
        # audit: labels, sizes, rates, the plot, the recorded data
        "privacy audit with labels the model lacks": Case(
            ["privacy", "audit", run, "--members", str(d / "other_labels.tsv"), "--non-members", str(d / "good.tsv")],
            "has labels ['no', 'yes'] but the model in"),
        "privacy audit of one member and one non-member": Case(
            ["privacy", "audit", run, "--members", str(d / "p_one_member.tsv"),
             "--non-members", str(d / "p_one_non_member.tsv")],
            "the audit has 1 member and 1 non-member, fewer than the 10 of each it needs"),
        "privacy audit of a run with a small held-out part": Case(
            ["privacy", "audit", run], "the run held out only 2: give --non-members with 10 or more examples"),
        "privacy audit at a rate the non-members cannot support": Case(
            ["privacy", "audit", run, *forty, "--fpr", "0.01"],
            "--fpr 0.01 needs at least 500 non-members (5 false positives at 1.00%), and the audit has 40"),
        "privacy audit rate given twice": Case(
            ["privacy", "audit", run, *forty, "--fpr", "0.2,0.5,0.2"], "--fpr lists 0.2 twice; give each rate once"),
        "privacy audit rate out of range": Case(
            ["privacy", "audit", run, *forty, "--fpr", "5"], "--fpr: a false-positive rate lies strictly between 0 and 1"),
        "privacy audit plot over a file": Case(
            ["privacy", "audit", run, *forty, "--plot", str(d / "good.tsv")], "good.tsv exists; choose another --plot"),
        "privacy audit of a run whose data has gone": Case(
            ["privacy", "audit", str(root / "p_moved_data")],
            "p_moved_away.tsv no longer exists ("),
        # sweep: refused before its folder exists
        "privacy sweep epsilon given twice": Case([*sweep, "--epsilons", "1,8,8.0"], "--epsilons lists 8.0 twice (as 8)"),
        "privacy sweep strategy given twice": Case([*sweep, "--epsilons", "8", "--trainable", "head,lora,head"],
                                                   "--trainable lists head twice; give each strategy once"),
        "privacy sweep epsilon too small to reach": Case([*sweep, "--epsilons", "1e-300,8"],
                                                         "epsilon 1e-300 cannot be reached with 18 examples"),
        "privacy sweep epsilon too large to mean anything": Case([*sweep, "--epsilons", "8,1e300"],
                                                                 "epsilon 1e+300 is above 100"),
        # train: the mechanism's own options, checked against what its record declares
        "privacy accountant not among the record's choices": Case(
            [*train, "--accountant", "moments"], "accountant 'moments' is not one of rdp, prv, gdp (privacy 'dp-sgd')"),
        "privacy option the mechanism does not take": Case(
            [*train, "--privacy-option", "noise=2"], "privacy 'dp-sgd' has no option noise (options: epsilon, delta,"),
        # mechanism: numbers floating point cannot hold, and where the plot goes
        "privacy mechanism epsilon too small": Case([*mechanism, "--epsilon", "1e-300", "--out", str(root / "p_m.png")],
                                                    "epsilon 1e-300 is too small for its noise"),
        "privacy mechanism samples beyond memory": Case(
            [*mechanism, "--samples", "100000000000", "--out", str(root / "p_m.png")],
            "samples must be at most 2,000,000 for the check"),
        "privacy mechanism negative seed": Case([*mechanism, "--seed", "-1", "--out", str(root / "p_m.png")],
                                                "--seed must lie in 0..4294967295, got -1"),
        "privacy mechanism plot under a file": Case([*mechanism, "--out", str(d / "good.tsv" / "p_m.png")],
                                                    "good.tsv is a file, not a folder; choose another --out"),
        "privacy mechanism plot format": Case([*mechanism, "--out", str(root / "p_m.txt")],
                                              "a plot cannot be written as .txt; end the name in .png"),
    }
