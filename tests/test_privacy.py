"""DP-SGD through the trainer, the pipeline and the CLI; the sweep; the membership-inference audit."""

from __future__ import annotations

import json
import math
import re

import pytest
from test_train import _learnable_file

from ptm_dp.audit import dp_bound, loss_threshold_attack
from ptm_dp.dpsgd import epsilon_for, make_dp_sgd
from toolkit import pipeline
from toolkit.errors import ConfigError

TINY = dict(epochs=2, batch_size=32, max_length=32, lr=5e-3, trainable="all", progress=False)


def _dp_run(ptm_manager, tmp_path, name="dp", epsilon=8.0, **hyper):
    data = str(_learnable_file(tmp_path, n=240))
    return pipeline.train(
        ptm_manager, model="tiny-bert", data=data, out=tmp_path / name, privacy="dp-sgd",
        privacy_options={"epsilon": epsilon, **hyper.pop("privacy_options", {})}, **{**TINY, **hyper},
    )


def test_reported_epsilon_is_the_accountants_and_within_target(ptm_manager, tmp_path):
    metrics = _dp_run(ptm_manager, tmp_path)
    saved = json.loads((tmp_path / "dp" / "metrics.json").read_text())
    assert saved["status"] == "finished"
    n = saved["privacy"]["examples"]
    assert n == 216  # 240 rows less the 10% held out
    assert saved["delta"] == pytest.approx(1 / (10 * n))  # the default: well below 1/N
    fresh = epsilon_for(saved["noise_multiplier"], saved["sample_rate"], saved["steps"], saved["delta"])
    assert saved["epsilon"] == pytest.approx(fresh, rel=1e-9)
    assert 0 < saved["epsilon"] <= 8.0 + 1e-6
    assert saved["epsilon"] > 6  # the noise was calibrated to spend the budget, not far below it
    per_epoch = [h["epsilon"] for h in saved["history"]]
    assert len(per_epoch) == 2 and per_epoch[0] < per_epoch[1] == pytest.approx(saved["epsilon"])
    assert saved["steps"] == 2 * math.ceil(n / 32)
    assert metrics["trainable_parameters"] == metrics["total_parameters"]


@pytest.mark.parametrize("mode", ["hooks", "functorch", "ghost"])
def test_every_layer_trains_under_each_opacus_mode(ptm_manager, tmp_path, mode):
    """Embeddings included: explicit position ids give every layer a per-example gradient."""
    metrics = _dp_run(ptm_manager, tmp_path, privacy_options={"grad_sample_mode": mode}, epochs=1)
    assert metrics["grad_sample_mode"] == mode
    assert metrics["epsilon"] > 0 and math.isfinite(metrics["step_loss"][-1])
    [row] = pipeline.predict(ptm_manager, tmp_path / "dp", ["the superb film was lovely"])
    assert row["label"] in ("pos", "neg")


def test_private_training_path_learns_when_the_budget_is_unlimited(ptm_manager, tmp_path):
    """Poisson batches, per-example gradients and the split into parts train like plain SGD."""
    metrics = _dp_run(ptm_manager, tmp_path, epsilon=math.inf, epochs=4, lr=2e-3,
                      micro_batch_size=8, warmup_ratio=0.0)
    assert metrics["accuracy"] >= 0.9
    assert metrics["noise_multiplier"] == 0 and metrics["epsilon"] == math.inf


def test_auto_mode_picks_ghost_when_the_embedding_table_trains_and_hooks_for_a_few_layers(ptm_manager, tmp_path):
    from ptm_bert import trainable
    from ptm_bert.models import load_tiny_bert
    from ptm_dp.dpsgd import auto_grad_sample_mode

    # tiny-bert trained whole: under a million parameters, most of them its embedding table
    metrics = _dp_run(ptm_manager, tmp_path, epochs=1)
    assert metrics["trainable_parameters"] < 5_000_000 and metrics["grad_sample_mode"] == "ghost"
    top = trainable.apply(load_tiny_bert().model, "top1")
    assert auto_grad_sample_mode(top) == "hooks"
    head = _dp_run(ptm_manager, tmp_path, name="head", epochs=1, trainable="head")
    assert head["grad_sample_mode"] == "hooks"


def test_head_strategy_leaves_the_encoder_untouched(ptm_manager, tmp_path):
    import torch
    from safetensors.torch import load_file

    from ptm_bert.models import load_tiny_bert

    _dp_run(ptm_manager, tmp_path, trainable="head", epochs=1)
    saved = load_file(str(tmp_path / "dp" / "model" / "model.safetensors"))
    fresh = load_tiny_bert().model.state_dict()
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert torch.equal(saved[layer], fresh[layer])
    assert not torch.equal(saved["classifier.weight"], fresh["classifier.weight"])


def test_lora_run_saves_a_plain_bert_that_reloads(ptm_manager, tmp_path):
    metrics = _dp_run(ptm_manager, tmp_path, trainable="lora", epochs=1)
    assert metrics["trainable_parameters"] < metrics["total_parameters"] / 10
    config = json.loads((tmp_path / "dp" / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert pipeline.evaluate(ptm_manager, tmp_path / "dp", data=str(tmp_path / "toy.tsv"))["n"] == 240


def test_unreachable_epsilon_is_one_line_and_writes_nothing(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=40))
    out = tmp_path / "run"
    result = ptm_cli("train", "--model", "tiny-bert", "--data", data, "--privacy", "dp-sgd",
                     "--epsilon", "0.001", "--delta", "1e-8", "--epochs", "50", "--batch-size", "30",
                     "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("ptm: epsilon 0.001 cannot be reached with 36 examples")
    assert "raise --epsilon" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--privacy", "dp-sgd", "--epsilon", "0"], "ptm: epsilon must be > 0, got 0.0; try --epsilon 8"),
        (["--privacy", "dp-sgd", "--epsilon", "-1"], "ptm: epsilon must be > 0, got -1.0; try --epsilon 8"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--delta", "1.5"],
         "ptm: delta must lie in (0, 1), got 1.5; leave it out for 1/(10 N)"),
        (["--privacy", "dp-sgd"], "ptm: --privacy dp-sgd needs a budget: add --epsilon (e.g. --epsilon 8)"),
        (["--epsilon", "8"], "ptm: --epsilon only apply with --privacy (e.g. --privacy dp-sgd --epsilon 8)"),
        (["--privacy", "dp-sdg", "--epsilon", "8"], "ptm: privacy 'dp-sdg' not found. Did you mean 'dp-sgd'?"),
        (["--trainable", "top9"], "ptm: --trainable top9: the model has 2 layers; use top1..top2"),
        (["--trainable", "some"], "ptm: unknown --trainable 'some'; use all, head, lora or topN (e.g. top2)"),
        # The mechanism's own options: its record declares them, the core checks them.
        (["--privacy", "dp-sgd", "--epsilon", "8", "--accountant", "moments"],
         "ptm: accountant 'moments' is not one of rdp, prv, gdp (privacy 'dp-sgd')"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--grad-sample-mode", "turbo"],
         "ptm: grad_sample_mode 'turbo' is not one of auto, hooks, functorch, ghost (privacy 'dp-sgd')"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--privacy-option", "accountant=moments"],
         "ptm: accountant 'moments' is not one of rdp, prv, gdp (privacy 'dp-sgd')"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--privacy-option", "noise=2"],
         "ptm: privacy 'dp-sgd' has no option noise (options: epsilon, delta, max_grad_norm, accountant, grad_sample_mode)"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--accountant", "rdp", "--privacy-option", "accountant=prv"],
         "ptm: accountant is given both as --accountant and as --privacy-option; give it once"),
        (["--privacy", "dp-sgd", "--epsilon", "8", "--privacy-option", "prv"],
         "ptm: --privacy-option 'prv' is not NAME=VALUE; write e.g. --privacy-option accountant=prv"),
        (["--privacy-option", "accountant=prv"], "ptm: --privacy-option only applies with --privacy"),
    ],
)
def test_bad_privacy_input_is_one_line_exit_2(ptm_cli, tmp_path, args, message):
    out = tmp_path / "run"
    result = ptm_cli("train", "--model", "tiny-bert", "--out", str(out), "--quiet", *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_train_help_shows_the_options_the_privacy_records_declare(ptm_cli, ptm_register):
    from toolkit import hookimpl
    from toolkit.registry import Option, PrivacySpec

    class Plugin:
        @hookimpl
        def ptm_register_privacy(self, register):
            register(PrivacySpec(id="clipped", summary="clipping, no noise", factory="ptm_dp.dpsgd:make_dp_sgd",
                                 options={"epsilon": Option(help="budget", type=float),
                                          "accountant": Option(help="how", type=str, choices=("rdp",), default="rdp")}))

    ptm_register(Plugin(), name="clipped-plugin")
    # One line, with the words click's wrapping broke at a hyphen ("dp-\n sgd") joined again.
    text = re.sub(r"(?<=\w)- ", "-", " ".join(ptm_cli("train", "--help").output.split()))
    assert "--accountant NAME Privacy accountant; the same as --privacy-option accountant=NAME. " \
           "[clipped: rdp; default rdp; dp-sgd: rdp, prv or gdp; default rdp]" in text
    assert "[dp-sgd: auto, hooks, functorch or ghost; default auto: ghost clipping when over 5M parameters or an embedding table train, else hooks]" in text
    assert "[clipped: epsilon, accountant; dp-sgd: epsilon, delta, max_grad_norm, accountant, grad_sample_mode]" in text


def test_cli_dp_run_reports_the_guarantee_and_warns_on_a_large_delta(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=120))
    result = ptm_cli("train", "--model", "tiny-bert", "--data", data, "--privacy", "dp-sgd",
                     "--epsilon", "4", "--delta", "0.05", "--epochs", "1", "--batch-size", "16",
                     "--max-length", "32", "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "ptm: warning: delta 0.05 is at least 1/N = 0.00925926 for N = 108 examples" in result.output
    assert "-DP by dp-sgd (noise multiplier" in result.output
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["delta"] == 0.05 and saved["epsilon"] <= 4

    compared = ptm_cli("privacy", "accountants", str(tmp_path / "run"), "--json")
    assert compared.exit_code == 0, compared.output
    table = json.loads(compared.stdout)
    assert table["used"] == "rdp" and table["epsilon"]["rdp"] == pytest.approx(saved["epsilon"])
    assert table["epsilon"]["prv"] < table["epsilon"]["rdp"]
    text = ptm_cli("privacy", "accountants", str(tmp_path / "run"))
    assert [line.split()[0] for line in text.stdout.splitlines()[1:]] == ["rdp", "prv", "gdp"]


def test_the_default_delta_is_well_below_one_over_n(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=120))
    result = ptm_cli("train", "--model", "tiny-bert", "--data", data, "--privacy", "dp-sgd", "--epsilon", "8",
                     "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--out", str(tmp_path / "run"),
                     "--quiet")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    n = saved["privacy"]["examples"]
    assert n == 108 and saved["delta"] < 1 / n
    assert saved["delta"] == pytest.approx(1 / (10 * n))


def test_accountants_differ_on_the_same_run():
    rdp = epsilon_for(1.0, 0.1, 100, 1e-5, "rdp")
    prv = epsilon_for(1.0, 0.1, 100, 1e-5, "prv")
    gdp = epsilon_for(1.0, 0.1, 100, 1e-5, "gdp")
    assert prv < rdp  # PRV is tighter than RDP's conversion
    assert len({round(rdp, 3), round(prv, 3), round(gdp, 3)}) == 3


def test_mechanism_rejects_bad_budgets_before_training():
    with pytest.raises(ConfigError, match="unknown accountant 'moments'"):
        make_dp_sgd(epsilon=1, accountant="moments")
    with pytest.raises(ConfigError, match="--max-grad-norm must be > 0"):
        make_dp_sgd(epsilon=1, max_grad_norm=0)


def test_the_epsilon_spent_is_never_negative():
    """With much noise for its delta an accountant's conversion goes below 0: 0 is spent."""
    from opacus.accountants import create_accountant

    for name in ("rdp", "prv"):
        raw = create_accountant(name)
        raw.history = [(100.0, 1.0, 1)]
        assert raw.get_epsilon(0.04) < 0
    # GDP finds no root in [0, 500] there and raises; the bound holds at epsilon 0.
    assert [epsilon_for(100.0, 1.0, 1, 0.04, name) for name in ("rdp", "prv", "gdp")] == [0.0, 0.0, 0.0]


def test_budgets_opacus_cannot_calibrate_are_refused_and_a_tiny_one_spends_at_least_zero():
    with pytest.raises(ConfigError, match=r"^epsilon 1e\+300 is above 100, where the guarantee .* use --epsilon 100 or less"):
        make_dp_sgd(epsilon=1e300)
    # Reachable at noise 100 (delta 0.04 is large for one step), but below Opacus' precision.
    with pytest.raises(ConfigError, match=r"^epsilon 1e-300 is below 0.01, the precision to which Opacus calibrates"):
        make_dp_sgd(epsilon=1e-300, delta=0.04).plan(20, 256, 1)
    smallest = make_dp_sgd(epsilon=0.01, delta=0.04)
    smallest.plan(20, 256, 1)
    assert 0 <= epsilon_for(smallest.noise_multiplier, 1.0, 1, 0.04) <= 0.01
    with pytest.raises(ConfigError, match=r"^epsilon 0.001 cannot be reached with 20 examples"):
        make_dp_sgd(epsilon=0.001).plan(20, 256, 10)


PRIVATE = {"mechanism": "dp-sgd", "noise_multiplier": 1.2, "sample_rate": 0.5, "steps": 20, "delta": 1e-3}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mechanism": None}, "the run was trained without --privacy, so there is no budget to account for; train one"),
        ({"mechanism": "pate"}, "the run was trained with privacy 'pate', not dp-sgd"),
        ({"sample_rate": None, "delta": None}, "metrics.json lacks sample_rate, delta (damaged?); train the run again"),
        ({"steps": "20"}, 'metrics.json records steps "20", not a whole number >= 1 (damaged?)'),
        ({"steps": 0}, "metrics.json records steps 0, not a whole number >= 1"),
        ({"steps": 2.5}, "metrics.json records steps 2.5, not a whole number >= 1"),
        ({"steps": True}, "metrics.json records steps true, not a whole number >= 1"),
        ({"sample_rate": -0.5}, "metrics.json records sample_rate -0.5, not a number in (0, 1]"),
        ({"sample_rate": 3}, "metrics.json records sample_rate 3, not a number in (0, 1]"),
        ({"noise_multiplier": -1}, "metrics.json records noise_multiplier -1, not a number >= 0"),
        ({"noise_multiplier": math.nan}, "metrics.json records noise_multiplier NaN, not a number >= 0"),
        ({"noise_multiplier": 0.0}, "the run was trained without noise (epsilon inf): every accountant says inf"),
        ({"delta": 1.0}, "metrics.json records delta 1.0, not a number in (0, 1)"),
        ({"noise_multiplier": 1e-6}, "the prv accountant cannot compute an epsilon for noise multiplier 1e-06"),
    ],
)
def test_accountants_refuse_a_damaged_record_in_one_line(change, message):
    from ptm_dp.dpsgd import accountant_epsilons

    with pytest.raises(ConfigError) as refused:
        accountant_epsilons({**PRIVATE, **change})
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_accountants_read_a_whole_float_step_count():
    from ptm_dp.dpsgd import accountant_epsilons

    assert accountant_epsilons({**PRIVATE, "steps": 20.0}) == accountant_epsilons(PRIVATE)


def test_list_options_refuse_an_item_given_twice():
    from ptm_dp.sweep import parse_epsilons, parse_trainables

    assert parse_epsilons("inf, 8,1,,3") == [1, 3, 8, math.inf]
    for text, repeated in [("8,8", "8 twice;"), ("1,8,8.0", "8.0 twice (as 8);"), ("inf,Infinity", "Infinity twice (as inf)")]:
        with pytest.raises(ConfigError, match=rf"^--epsilons lists {re.escape(repeated)}"):
            parse_epsilons(text)
    with pytest.raises(ConfigError, match=r"^--trainable lists head twice; give each strategy once$"):
        parse_trainables("head,lora,head")
    with pytest.raises(ConfigError, match=r"^--epsilons is empty; write e.g. --epsilons 1,3,8,inf$"):
        parse_epsilons(" , ")


def test_a_sweep_refuses_its_budgets_before_its_folder_exists(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=40))
    out = tmp_path / "sweep"
    for epsilons, message in [("1e-300,8", "ptm: epsilon 1e-300 cannot be reached with 36 examples"),
                              ("8,1e300", "ptm: --epsilons: epsilon 1e+300 is above 100"),
                              ("8,8", "ptm: --epsilons lists 8 twice; give each epsilon once")]:
        result = ptm_cli("privacy", "sweep", "--model", "tiny-bert", "--data", data, "--epsilons", epsilons,
                         "--out", str(out), "--quiet")
        assert result.exit_code == 2 and result.output.startswith(message), result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not out.exists()
    zero = ptm_cli("privacy", "sweep", "--model", "tiny-bert", "--data", data, "--epsilons", "8", "--epochs", "0",
                   "--out", str(out))
    assert zero.output == "ptm: --epochs must be positive, got 0\n" and not out.exists()


# -- membership inference ---------------------------------------------------------------------


def test_an_audit_too_small_to_mean_anything_is_refused():
    from ptm_dp.audit import MIN_EXAMPLES, check_sizes

    with pytest.raises(ConfigError, match=r"^the audit has 1 member and 1 non-member, fewer than the 10 of each"):
        loss_threshold_attack([0.1], [0.9])
    check_sizes(MIN_EXAMPLES, MIN_EXAMPLES)
    with pytest.raises(ConfigError, match=r"^--fpr 0.01 needs at least 500 non-members .* the audit has 40; "
                                          r"give more --non-members, or --fpr 0.125 or more$"):
        check_sizes(40, 40, [0.01])
    chosen = loss_threshold_attack([0.01 * i for i in range(40)], [1 + 0.01 * i for i in range(40)], fprs=[0.125, 0.5])
    assert chosen.tpr_at_fpr == {"0.125": 1.0, "0.5": 1.0}


def test_data_with_some_of_the_models_labels_is_scored_by_name():
    from ptm_dp.audit import _relabelled
    from toolkit.data import Example, TextDataset

    only_positive = TextDataset("p", ("pos",), {"all": [Example("great", 0)]})
    relabelled = _relabelled(only_positive, ["neg", "pos"])
    assert relabelled.label_names == ("neg", "pos") and relabelled.splits["all"][0].label == 1



def test_attack_separates_low_from_high_losses_and_reports_supported_fprs_only():
    members = [0.01 * i for i in range(100)]
    others = [1 + 0.01 * i for i in range(100)]
    perfect = loss_threshold_attack(members, others)
    # 100 non-members: 1% FPR would rest on one false positive, 5% on five
    assert perfect.auc == 1.0 and perfect.tpr_at_fpr == {"0.05": 1.0} and perfect.lowest_fpr == 0.05
    assert perfect.auc_interval == (1.0, 1.0)
    blind = loss_threshold_attack(members, members)
    assert blind.auc == 0.5 and blind.tpr_at_fpr["0.05"] == pytest.approx(0.05)
    low, high = blind.auc_interval
    assert low < 0.5 < high and high - low < 0.25
    assert blind.tpr_interval["0.05"][0] <= 0.05 <= blind.tpr_interval["0.05"][1]
    assert blind.fpr_resolution == 0.01
    assert set(loss_threshold_attack(members * 10, members * 10).tpr_at_fpr) == {"0.01", "0.05"}


def test_the_bootstraps_fast_rates_are_sklearns():
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    from ptm_dp.audit import _auc_and_tprs

    rng = np.random.default_rng(0)
    for _ in range(50):
        members = np.round(rng.normal(0.0, 1.0, rng.integers(5, 300)), rng.integers(0, 3))
        others = np.round(rng.normal(0.3, 1.0, rng.integers(5, 300)), rng.integers(0, 3))
        truth, score = np.r_[np.ones(len(members)), np.zeros(len(others))], -np.r_[members, others]
        fpr, tpr, _ = roc_curve(truth, score, drop_intermediate=False)
        auc, tprs = _auc_and_tprs(members, others, (0.001, 0.01, 0.05, 0.2))
        assert auc == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
        assert tprs == pytest.approx([tpr[fpr <= t + 1e-12].max() for t in (0.001, 0.01, 0.05, 0.2)])


def test_dp_bound_caps_the_roc():
    assert dp_bound([0.0, 0.01, 0.5], 1.0, 0.0) == pytest.approx([0.0, math.e * 0.01, 1 - 0.5 / math.e])


def test_non_private_overfit_model_leaks_more_than_a_dp_one(ptm_cli, tmp_path):
    """Same model, data and schedule: the attack's AUC drops to near chance under DP."""
    good = ["great", "lovely", "superb", "fine", "excellent", "nice", "warm", "clever"]
    bad = ["awful", "dreadful", "boring", "poor", "horrible", "dull", "cold", "silly"]
    nouns = ["film", "plot", "cast", "score", "ending", "script", "pace", "set", "camera", "tone"]
    rows = ["text\tlabel"]
    for i in range(400):
        # Labels are noisy (every third flipped) so that fitting the training set means memorising.
        label = (i % 2) ^ (i % 3 == 0)
        words = good if i % 2 else bad
        rows.append(f"the {nouns[i % 10]} {nouns[(i // 10) % 10]} was {words[(i // 7) % 8]} {i}\t{label}")
    data = tmp_path / "noisy.tsv"
    data.write_text("\n".join(rows) + "\n")
    common = ["--model", "tiny-bert", "--data", str(data), "--epochs", "15", "--batch-size", "16",
              "--lr", "3e-3", "--max-length", "24", "--trainable", "all", "--quiet"]
    assert ptm_cli("train", *common, "--out", str(tmp_path / "plain")).exit_code == 0
    # Ghost clipping: the same clipped, noised steps as hooks (the same AUC here), without storing
    # per-example gradients of tiny-bert's embedding table (20 s faster).
    private = ptm_cli("train", *common, "--privacy", "dp-sgd", "--epsilon", "4", "--grad-sample-mode", "ghost",
                      "--out", str(tmp_path / "private"))
    assert private.exit_code == 0, private.output
    audits = {}
    for name in ("plain", "private"):
        result = ptm_cli("privacy", "audit", str(tmp_path / name), "--json")
        assert result.exit_code == 0, result.output
        audits[name] = json.loads(result.stdout)
        assert (tmp_path / name / "audit_roc.png").read_bytes()[:4] == b"\x89PNG"
    assert audits["plain"]["auc"] > 0.75
    assert audits["private"]["auc"] < 0.6
    assert audits["private"]["epsilon"] <= 4 and audits["plain"]["epsilon"] is None
    # 40 non-members: even 5% FPR would rest on two false positives, so no TPR is reported
    assert audits["plain"]["tpr_at_fpr"] == {} and audits["plain"]["lowest_fpr"] == 5 / 40


def test_sweep_trains_one_run_per_epsilon_and_plots(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=120))
    out = tmp_path / "sweep"
    result = ptm_cli("privacy", "sweep", "--model", "tiny-bert", "--data", data, "--epsilons",
                     "inf,2,8", "--epochs", "1", "--batch-size", "32", "--out", str(out), "--json",
                     "--quiet")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [r["target_epsilon"] for r in runs] == [2, 8, math.inf]
    assert runs[0]["noise_multiplier"] > runs[1]["noise_multiplier"] > 0
    assert runs[2]["noise_multiplier"] == 0
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "sweep.json").read_text())["status"] == "finished"
    assert sorted(p.name for p in out.iterdir()) == ["eps-2", "eps-8", "eps-inf", "sweep.json", "sweep.png"]
    bad = ptm_cli("privacy", "sweep", "--epsilons", "1,zero", "--out", str(tmp_path / "x"))
    assert bad.exit_code == 2 and bad.output.startswith("ptm: --epsilons: 'zero' is not a number")
    no_noise = ptm_cli("privacy", "accountants", str(out / "eps-inf"))
    assert no_noise.exit_code == 2 and "without noise (epsilon inf)" in no_noise.output


def test_sweep_over_strategies_gives_the_lessons_table(ptm_cli, tmp_path):
    data = str(_learnable_file(tmp_path, n=80))
    out = tmp_path / "table"
    result = ptm_cli("privacy", "sweep", "--model", "tiny-bert", "--data", data, "--epsilons", "8",
                     "--trainable", "head,all", "--epochs", "1", "--batch-size", "32", "--out", str(out),
                     "--quiet")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["trainable", "parameters"]
    assert [line.split()[0] for line in lines[1:3]] == ["head", "all"]
    runs = json.loads((out / "sweep.json").read_text())["runs"]
    assert runs[0]["trainable_parameters"] < runs[1]["trainable_parameters"]
    assert {p.name for p in out.iterdir()} == {"head-eps-8", "all-eps-8", "sweep.json", "sweep.png"}
