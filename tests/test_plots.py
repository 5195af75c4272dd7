"""The PNGs a run writes leave matplotlib as the user set it: a notebook that trains a model can
still show its own plots afterwards."""

from __future__ import annotations

import matplotlib
import pytest


@pytest.fixture
def users_backend():
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands for a notebook's inline backend: anything but Agg
    open_figures = plt.get_fignums()
    yield
    assert matplotlib.get_backend() == "svg", "a plot switched the user's backend"
    assert plt.get_fignums() == open_figures, "a plot left pyplot figures open"
    matplotlib.use(before)


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_plots_keep_the_users_backend(users_backend, tmp_path):
    from ptm_bert.compare import comparison_plot
    from ptm_bert.pretrain import pretraining_curves
    from ptm_course.explainability import _plot_convergence, _plot_randomization
    from toolkit.plots import training_curves

    history = [{"epoch": 1, "train_loss": 0.6, "accuracy": 0.7, "f1": 0.68},
               {"epoch": 2, "train_loss": 0.4, "accuracy": 0.8, "f1": 0.79}]
    evaluations = [{"step": 0, "loss": 4.0, "masked_accuracy": 0.05}, {"step": 10, "loss": 3.0, "masked_accuracy": 0.2}]
    made = [
        training_curves({"history": history, "step_loss": [0.7, 0.6, 0.5, 0.4]}, tmp_path / "train.png"),
        pretraining_curves({"evaluations": evaluations, "step_loss": [4.0, 3.5, 3.0],
                            "unigram_masked_accuracy": 0.1, "unigram_token": "the"}, tmp_path / "pre.png"),
        comparison_plot([{"model": "minilm", "accuracy": 0.8, "accuracy_per_epoch": [0.7, 0.8]}], tmp_path / "cmp.png"),
        _plot_convergence({8: (0.1, 0.05), 32: (0.01, 0.004)}, tmp_path / "conv.png"),
        _plot_randomization([{"method": "ig", "randomization": [{"stage": "trained", "spearman": 1.0},
                                                                 {"stage": "classifier", "spearman": 0.2}]}],
                            tmp_path / "rand.png"),
    ]
    assert all(_is_png(path) for path in made)
