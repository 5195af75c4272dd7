"""The Laplace and Gaussian mechanisms of ptm_dp, and the empirical check of their promise."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import click
import numpy as np
import pytest

from ptm_dp.mechanism_command import mechanism_command
from ptm_dp.mechanisms import (
    DEFAULT_CLIP,
    QUERIES,
    empirical_check,
    make_mechanism,
    mean_length,
    measure_privacy_loss,
    noise_scale,
    plot_check,
    release,
    sample_mechanism,
)
from toolkit import hookimpl
from toolkit.errors import ConfigError

TEXTS = [f"review number {i} " + "word " * (i % 17) for i in range(300)]


# -- calibration -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sensitivity", "epsilon"), [(1.0, 1.0), (1.0, 0.25), (50 / 680, 3.0)])
def test_laplace_scale_is_sensitivity_over_epsilon_and_the_noise_has_it(sensitivity, epsilon):
    mechanism = make_mechanism("laplace", epsilon=epsilon, sensitivity=sensitivity, seed=0)
    assert noise_scale(mechanism) == pytest.approx(sensitivity / epsilon)
    noise = sample_mechanism(0.0, "laplace", epsilon=epsilon, sensitivity=sensitivity, seed=1)
    # A Laplace(b) variable has mean absolute value b.
    assert np.mean(np.abs(noise)) == pytest.approx(sensitivity / epsilon, rel=0.03)


def test_gaussian_sigma_meets_the_analytic_condition_exactly():
    sigma = noise_scale(make_mechanism("gaussian", epsilon=1.0, delta=1e-5, sensitivity=1.0))
    # Balle & Wang (2018), Theorem 8: the delta this sigma spends at epsilon.
    phi = NormalDist().cdf
    spent = phi(1 / (2 * sigma) - sigma) - math.e * phi(-1 / (2 * sigma) - sigma)
    assert spent == pytest.approx(1e-5, rel=1e-3)
    assert 3 < sigma < 4  # the classic sqrt(2 ln(1.25/delta)) / epsilon would give 4.84


def test_release_is_repeatable_with_a_seed_and_noisy():
    first = release(680, "laplace", epsilon=1.0, sensitivity=1.0, seed=7)
    assert first == release(680, "laplace", epsilon=1.0, sensitivity=1.0, seed=7)
    assert first != 680 and abs(first - 680) < 20


# -- queries -----------------------------------------------------------------------------------


def test_mean_length_clips_each_text_and_has_sensitivity_clip_over_n():
    assert mean_length(["one two three", "word " * 80]) == pytest.approx((3 + DEFAULT_CLIP) / 2)
    assert QUERIES["mean-length"].sensitivity(680) == pytest.approx(50 / 680)
    assert QUERIES["count"].sensitivity(680) == 1.0
    check = empirical_check(TEXTS, "mean-length", "laplace", 1.0, samples=2000)
    assert check.sensitivity == pytest.approx(DEFAULT_CLIP / len(TEXTS))
    assert check.scale == pytest.approx(DEFAULT_CLIP / len(TEXTS))
    moved = abs(check.true_d - check.true_d_prime)
    assert 0 < moved <= check.sensitivity + 1e-12
    assert check.neighbours == "replace one text"


# -- the empirical check -----------------------------------------------------------------------


def test_laplace_count_keeps_the_e_to_the_epsilon_bound_at_epsilon_1():
    check = empirical_check(TEXTS, "count", "laplace", epsilon=1.0, samples=20_000, seed=0)
    assert (check.true_d, check.true_d_prime) == (300, 299)
    assert check.delta == 0 and check.scale == pytest.approx(1.0)
    assert check.bound_holds
    # The ratio really reaches epsilon in the tails: the check measures, it does not just pass.
    assert abs(check.max_log_ratio - 1.0) < check.log_ratio_slack
    assert 0 < check.log_ratio_slack < 0.5


def test_gaussian_count_keeps_the_epsilon_delta_bound_at_1_and_1e_5():
    check = empirical_check(TEXTS, "count", "gaussian", epsilon=1.0, samples=20_000, seed=0)
    assert check.delta == 1e-5
    assert check.bound_holds
    assert check.excess_mass < 1e-3


def _draw(mechanism, epsilon, delta=None, samples=20_000):
    rng = np.random.RandomState(3)
    options = dict(epsilon=epsilon, delta=delta, sensitivity=1.0, samples=samples, seed=rng)
    scale = noise_scale(make_mechanism(mechanism, epsilon=epsilon, delta=delta, sensitivity=1.0))
    on_d = sample_mechanism(10.0, mechanism, **options)
    return on_d, sample_mechanism(9.0, mechanism, **options), scale


def test_laplace_noise_for_epsilon_3_breaks_a_claimed_epsilon_of_1():
    on_d, on_dprime, scale = _draw("laplace", epsilon=3.0)
    honest = measure_privacy_loss(on_d, on_dprime, epsilon=3.0, bin_width=scale / 2)
    claimed = measure_privacy_loss(on_d, on_dprime, epsilon=1.0, bin_width=scale / 2)
    assert honest.bound_holds
    assert not claimed.bound_holds
    assert claimed.max_log_ratio > 2.5


def test_gaussian_noise_for_epsilon_5_breaks_a_claimed_1_and_1e_5():
    on_d, on_dprime, scale = _draw("gaussian", epsilon=5.0, delta=1e-5)
    honest = measure_privacy_loss(on_d, on_dprime, epsilon=5.0, delta=1e-5, bin_width=scale / 2)
    claimed = measure_privacy_loss(on_d, on_dprime, epsilon=1.0, delta=1e-5, bin_width=scale / 2)
    assert honest.bound_holds
    assert not claimed.bound_holds
    assert claimed.excess_mass > 0.1


def test_check_to_dict_is_json_without_the_samples():
    check = empirical_check(TEXTS, samples=2000)
    data = json.loads(json.dumps(check.to_dict()))
    assert "samples_d" not in data and data["samples"] == 2000
    assert data["bound"] == "max_log_ratio <= epsilon + log_ratio_slack"
    assert len(check.samples_d) == len(check.samples_dprime) == 2000


def test_plot_check_writes_a_png(tmp_path):
    check = empirical_check(TEXTS, "count", "gaussian", samples=2000)
    path = plot_check(check, tmp_path / "plots" / "check.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.0, -1.0])
def test_epsilon_must_be_positive(epsilon):
    message = rf"^epsilon must be > 0, got {epsilon}; try --epsilon 1$"
    with pytest.raises(ConfigError, match=message):
        empirical_check(TEXTS, epsilon=epsilon)


def test_gaussian_needs_a_delta():
    message = r"^the Gaussian mechanism needs delta in \(0, 1\), e\.g\. --delta 1e-5$"
    with pytest.raises(ConfigError, match=message):
        empirical_check(TEXTS, mechanism="gaussian", delta=0.0)
    with pytest.raises(ConfigError, match=r"delta must be in \[0, 1\), got 1\.0"):
        release(1.0, "gaussian", epsilon=1.0, delta=1.0, sensitivity=1.0)


def test_unknown_names_and_empty_data_are_refused_with_the_fix():
    hint = r"unknown query 'cont' \(did you mean 'count'\?\); choose one of: count, mean-length"
    with pytest.raises(ConfigError, match=hint):
        empirical_check(TEXTS, query="cont")
    hint = r"unknown mechanism 'exponential'; choose one of: laplace, gaussian"
    with pytest.raises(ConfigError, match=hint):
        empirical_check(TEXTS, mechanism="exponential")
    with pytest.raises(ConfigError, match=r"the data has no texts"):
        empirical_check([])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epsilon": 1e-300}, r"^epsilon 1e-300 is too small for its noise \(scale inf\) to be calibrated"),
        ({"epsilon": 1e-300, "mechanism": "gaussian"}, r"^epsilon 1e-300 is too small for its noise \(scale 0\)"),
        ({"epsilon": 1e300}, r"^epsilon 1e\+300 calls for noise of scale 0, lost in the rounding of the answer 300; "
                             r"check a smaller --epsilon"),
        ({"samples": 10**11}, r"^samples must be at most 2,000,000 for the check, got 100,000,000,000; try --samples 20000$"),
        ({"samples": 10}, r"^samples must be at least 1,000 for the check, got 10; try --samples 20000$"),
        ({"seed": -1}, r"^--seed must lie in 0\.\.4294967295, got -1; try --seed 0$"),
        ({"epsilon": 50.0, "samples": 2000}, r"^no histogram bin holds 100 samples from both D and D' \(2,000 samples "
                                             r"each, epsilon 50\); draw more --samples, or check a smaller --epsilon$"),
    ],
)
def test_numbers_the_check_cannot_work_with_are_refused_before_sampling(options, message):
    with pytest.raises(ConfigError, match=message):
        empirical_check(TEXTS, **options)


# -- the command -------------------------------------------------------------------------------


class _MechanismPlugin:
    @hookimpl
    def ptm_register_commands(self, cli):
        group = click.Group("dp-test")
        group.add_command(mechanism_command)
        cli.add_command(group)


@pytest.fixture
def mechanism_cli(ptm_register, ptm_cli):
    ptm_register(_MechanismPlugin(), name="dp-test")
    return lambda *args: ptm_cli("dp-test", "mechanism", "--samples", "2000", *args)


def test_command_writes_a_png_and_reports(mechanism_cli, tmp_path):
    out = tmp_path / "laplace.png"
    result = mechanism_cli("--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    lines = result.output.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("count on 'reviews': 680 on D (680 texts), 679 on its neighbour D'")
    assert "Laplace scale b = 1 (epsilon 1, delta 0)" in lines[1]
    assert lines[2].startswith("largest observed log ratio ") and lines[2].endswith("no violation found")
    assert lines[3] == f"plot: {out}"


def test_command_json_has_the_check(mechanism_cli, tmp_path):
    out = tmp_path / "gaussian.png"
    options = ("--mechanism", "gaussian", "--query", "mean-length", "--json")
    result = mechanism_cli(*options, "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {
        "query", "mechanism", "epsilon", "delta", "sensitivity", "scale", "true_d", "true_d_prime",
        "max_log_ratio", "excess_mass", "bound_holds", "samples", "plot",
    } <= set(data)
    assert (data["mechanism"], data["delta"], data["samples"]) == ("gaussian", 1e-5, 2000)
    assert data["sensitivity"] == pytest.approx(50 / 680) and data["plot"] == str(out)
    assert out.stat().st_size > 0


def test_command_refuses_to_overwrite_and_leaves_the_old_file(mechanism_cli, tmp_path):
    out = tmp_path / "old.png"
    out.write_bytes(b"keep me")
    result = mechanism_cli("--out", str(out))
    assert result.exit_code == 2
    assert result.output == f"ptm: {out} exists; choose another --out or pass --overwrite\n"
    assert out.read_bytes() == b"keep me"
    assert mechanism_cli("--out", str(out), "--overwrite").exit_code == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_command_reports_a_bad_epsilon_in_one_line(mechanism_cli, tmp_path):
    result = mechanism_cli("--epsilon", "0", "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.output == "ptm: epsilon must be > 0, got 0.0; try --epsilon 1\n"
    assert not (tmp_path / "x.png").exists()


def test_command_refuses_a_plot_it_could_not_write_and_writes_nothing(mechanism_cli, tmp_path):
    (tmp_path / "a_file").write_text("keep me")
    for out, message in [(tmp_path / "a_file" / "x.png", f"ptm: --out {tmp_path / 'a_file' / 'x.png'}: "
                                                          f"{tmp_path / 'a_file'} is a file, not a folder; choose another --out"),
                         (tmp_path / "x.txt", f"ptm: --out {tmp_path / 'x.txt'}: a plot cannot be written as .txt; "
                                              "end the name in .png")]:
        result = mechanism_cli("--out", str(out))
        assert result.exit_code == 2 and result.output == message + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]
