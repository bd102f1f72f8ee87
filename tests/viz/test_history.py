"""Plots of snapshots, TP/FP detections and AP breakdowns draw what they are given."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from paa_edu import pretrained  # noqa: E402
from paa_edu.viz import (  # noqa: E402
    plot_ap_breakdown,
    plot_cut_over_training,
    plot_detections_vs_gt,
    plot_positives_over_training,
    plot_split_over_training,
)
from paa_edu.viz.boxes import FP_COLOR, MISSED_COLOR, TP_COLOR  # noqa: E402


@pytest.fixture(scope="module")
def histories():
    return {n: pretrained.load_snapshot_history(n) for n in pretrained.NAMES}


def test_split_over_training_one_panel_per_gt_and_iteration(histories):
    snaps = histories["paa_maxiou"]
    fig = plot_split_over_training(snaps, gts=[0, 1, 2], num_iterations=3)
    assert len(fig.axes) == 9
    first, last = snaps[0]["iteration"], snaps[-1]["iteration"]
    assert fig.axes[0].get_title().startswith(f"iter {first} | GT 0:")
    assert fig.axes[2].get_title().startswith(f"iter {last} | GT 0:")
    n_pos = int(snaps[-1]["assigners"]["paa_maxiou"]["cand_positives"][1].sum())
    assert f"GT 1: {n_pos}/" in fig.axes[5].get_title()


def test_split_over_training_needs_a_paa_run(histories):
    with pytest.raises(ValueError, match="not a PAA assignment"):
        plot_split_over_training(histories["atss"])


def test_positives_over_training_plots_the_counts(histories):
    fig = plot_positives_over_training(histories)
    assert [ax.get_title() for ax in fig.axes] == list(pretrained.NAMES)
    snaps = histories["paa_atss"]
    # independent recount: positives listed per GT in each snapshot
    expected = np.stack([np.bincount(s["assigners"]["paa_atss"]["pos_gt"].numpy(),
                                     minlength=len(s["gt_boxes"])) for s in snaps])
    lines = fig.axes[3].get_lines()
    assert len(lines) == expected.shape[1] + 1  # one per GT plus the mean
    assert np.array_equal(lines[0].get_ydata(), expected[:, 0])
    assert np.allclose(lines[-1].get_ydata(), expected.mean(1))


def test_cut_over_training_one_line_per_gt(histories):
    fig = plot_cut_over_training(histories["paa_maxiou"], gts=[0, 3])
    assert len(fig.axes[0].get_lines()) == 2


def test_detections_vs_gt_colours_tp_fp_and_missed():
    gt = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 60, 10, 10, 0]]),
          "labels": torch.tensor([0, 0])}
    dets = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [90, 90, 8, 8, 0], [60, 60, 10, 10, 0]]),
            "scores": torch.tensor([0.9, 0.8, 0.1]), "labels": torch.tensor([0, 0, 0])}
    fig = plot_detections_vs_gt(None, dets, gt, ["a"], score_thr=0.3)
    edges = [matplotlib.colors.to_hex(p.get_edgecolor()) for p in fig.axes[0].patches]
    hexes = {k: matplotlib.colors.to_hex(c) for k, c in
             (("tp", TP_COLOR), ("fp", FP_COLOR), ("missed", MISSED_COLOR))}
    # GT 0 found (yellow), GT 1 missed (its detection is below the threshold); 1 TP, 1 FP
    assert edges[1] == hexes["missed"] and edges[2:] == [hexes["tp"], hexes["fp"]]
    assert fig.axes[0].get_title().startswith("1 TP, 1 FP, 1 missed GT")


def test_ap_breakdown_bars():
    per_class = {"a": {"per_class_AP50": [0.5, 1.0]}, "b": {"per_class_AP50": [0.25, float("nan")]}}
    by_size = {"a": {"small": {"AP50": 0.1}, "large": {"AP50": 0.9}},
               "b": {"small": {"AP50": 0.2}, "large": {"AP50": 0.8}}}
    fig = plot_ap_breakdown(per_class, ["x", "y"], by_size)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([50.0, 100.0, 25.0, 0.0])
    assert [p.get_height() for p in fig.axes[1].patches] == pytest.approx([10, 90, 20, 80])
