from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from tff_train.learning.workdir_io import learning_curve_figure, plot_learning_curve

ROWS = [{"round": 1, "train_loss": 2.1, "train_accuracy": 0.2, "public_test_accuracy": ""},
        {"round": 2, "train_loss": 1.6, "train_accuracy": 0.5, "public_test_accuracy": 0.45}]
SERIES = ["train_loss", "train_accuracy", "public_test_accuracy"]


def test_loss_and_accuracies_get_their_own_labelled_axes():
    fig = learning_curve_figure(ROWS, SERIES, "FedAvg")
    try:
        assert len(fig.axes) == 2
        loss_ax, acc_ax = fig.axes
        assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
        assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "round"
        assert [line.get_label() for line in loss_ax.get_lines()] == ["train_loss"]
        assert [line.get_label() for line in acc_ax.get_lines()] == ["train_accuracy",
                                                                     "public_test_accuracy"]
        assert acc_ax.get_ylim() == (0.0, 1.0)
        # Empty values are skipped, not plotted as zeros.
        assert list(acc_ax.get_lines()[1].get_xdata()) == [2]
        assert list(loss_ax.get_lines()[0].get_ydata()) == [2.1, 1.6]
    finally:
        plt.close(fig)


def test_plot_learning_curve_writes_a_png(tmp_path):
    path = plot_learning_curve(tmp_path / "curve.png", ROWS, SERIES, "FedAvg")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("series", [[], "train_loss"])
def test_series_must_be_a_non_empty_list(series):
    with pytest.raises(ValueError, match="series must be a non-empty list of metric columns"):
        learning_curve_figure(ROWS, series, "FedAvg")
