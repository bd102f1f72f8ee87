"""The training/evaluation curves render (Agg) and plot what they are given."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from paa_edu.evaluation import evaluate_rotated  # noqa: E402
from paa_edu.viz.curves import (  # noqa: E402
    _moving_average,
    plot_iou_calibration,
    plot_loss_curves,
    plot_pr_curves,
)


def test_moving_average():
    assert _moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]


def test_loss_curves_one_panel_per_term():
    history = [{"iter": i + 1, "loss": 3.0 - 0.1 * i, "loss_cls": 1.0, "loss_bbox": 2.0}
               for i in range(20)]
    fig = plot_loss_curves(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "loss_cls", "loss_bbox"]
    assert fig.axes[0].lines[0].get_ydata().tolist() == [r["loss"] for r in history]
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curves([])


def test_pr_curves_from_the_evaluation():
    gt = {"boxes": torch.tensor([[50.0, 50.0, 40.0, 20.0, 0.0], [150.0, 50.0, 40.0, 20.0, 0.0]]),
          "labels": torch.tensor([0, 1])}
    det = {"boxes": gt["boxes"].clone(), "scores": torch.tensor([0.9, 0.8]),
           "labels": torch.tensor([0, 1])}
    metrics = evaluate_rotated([det], [gt], num_classes=3)
    fig = plot_pr_curves(metrics, ["a", "b", "c"])
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a", "b"]  # class c has no GT
    assert titled[0].lines[0].get_ydata().tolist() == [1.0]
    with pytest.raises(ValueError, match="no curve"):
        plot_pr_curves(metrics, ["a", "b", "c"], iou_threshold=0.42)


def test_iou_calibration_bins():
    predicted, true = np.array([0.05, 0.15, 0.95, 0.91]), np.array([0.1, 0.2, 0.8, 1.0])
    fig = plot_iou_calibration(predicted, true)
    binned = fig.axes[0].lines[0]
    assert binned.get_ydata().tolist() == pytest.approx([0.1, 0.2, 0.9])
    with pytest.raises(ValueError, match="1-D"):
        plot_iou_calibration(predicted, true[:2])
