"""The training/evaluation curves plot what they are given, readably, and refuse inputs that
would draw an empty or mislabelled panel."""
from __future__ import annotations

import csv
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from paa_edu.evaluation.rotated_ap import evaluate_rotated  # noqa: E402
from paa_edu.viz.curves import (  # noqa: E402
    _moving_average,
    plot_ap_breakdown,
    plot_iou_calibration,
    plot_iou_loss_floor,
    plot_loss_curves,
    plot_pr_curves,
)
from paa_edu.viz.style import DPI, FONT_SIZE  # noqa: E402

NAMES = ["a", "b", "c"]


def _box(cx, cy=50.0):
    return [cx, cy, 40.0, 20.0, 0.0]


@pytest.fixture(scope="module")
def runs():
    """Two runs on one image with a GT of each class.

    ``good`` finds all three. ``poor``: class a found after a higher-scored false positive
    (AP below 1), class b only a box far from its GT (AP 0), class c nothing.
    """
    gt = {"boxes": torch.tensor([_box(50), _box(150), _box(250), _box(50, 150)]),
          "labels": torch.tensor([0, 1, 2, 0])}
    good = {"boxes": gt["boxes"].clone(), "scores": torch.tensor([0.9, 0.8, 0.7, 0.6]),
            "labels": gt["labels"].clone()}
    poor = {"boxes": torch.tensor([_box(400), _box(50), _box(150, 300)]),
            "scores": torch.tensor([0.95, 0.9, 0.8]), "labels": torch.tensor([0, 0, 1])}
    return {name: evaluate_rotated([det], [gt], num_classes=3)
            for name, det in (("good", good), ("poor", poor))}


def _history(n=20, lr=True):
    return [{"iter": i + 1, "loss": 3.0 - 0.1 * i, "loss_cls": 1.0, "loss_bbox": 2.0,
             **({"lr": 0.01 * min(1.0, (i + 1) / 8)} if lr else {})} for i in range(n)]


def _texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_moving_average():
    assert _moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]


def test_loss_curves_one_panel_per_term_and_the_lr():
    history = _history()
    fig = plot_loss_curves(history, warmup_iters=8)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "loss_cls", "loss_bbox", "lr"]
    assert all(ax.get_ylabel() for ax in fig.axes)
    assert fig.axes[0].lines[0].get_ydata().tolist() == [r["loss"] for r in history]
    assert fig.axes[-1].get_ylabel() == "learning rate"
    assert fig.axes[-1].lines[0].get_ydata().tolist() == [r["lr"] for r in history]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(legend) == ["learning rate", "mean of the last 10", "per iteration",
                              "warm-up (to iter 8)"]
    span = fig.axes[0].patches[0].get_extents().transformed(fig.axes[0].transData.inverted())
    assert span.x0 == pytest.approx(1) and span.x1 == pytest.approx(8)


def test_loss_curves_read_log_csv_rows():
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["iter", "lr", "loss", "val_AP50"])
    writer.writeheader()
    writer.writerows([{"iter": 1, "lr": 0.001, "loss": 2.0}, {"iter": 2, "lr": 0.002, "loss": 1.5},
                      {"iter": 2, "val_AP50": 0.3}])  # an evaluation row: no losses
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    fig = plot_loss_curves(rows, show_lr=False)
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    assert fig.axes[0].lines[0].get_ydata().tolist() == [2.0, 1.5]


def test_loss_curves_refuse_bad_inputs():
    with pytest.raises(ValueError, match="loss_iou"):
        plot_loss_curves(_history(), keys=["loss_iou"])
    with pytest.raises(ValueError, match="window"):
        plot_loss_curves(_history(), window=0)
    with pytest.raises(ValueError, match="no 'lr'"):
        plot_loss_curves(_history(lr=False), show_lr=True)


def test_pr_overlay_one_line_per_run_with_its_ap(runs):
    fig = plot_pr_curves(runs, NAMES)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == NAMES
    for cls, ax in enumerate(ax for ax in fig.axes if ax.get_title()):
        assert len(ax.lines) == len(runs)
        for line, (name, m) in zip(ax.lines, runs.items()):
            assert line.get_label().startswith(f"{name}: {100 * m['per_class_AP'][0, cls]:.1f}")
        assert len(_legend_texts(ax)) == len(runs)
    assert 0 < runs["poor"]["per_class_AP50"][0] < 1  # a's overlay shows a non-trivial AP
    assert "poor: 0.0 (no detections)" in _legend_texts(fig.axes[2])
    assert fig.axes[0].lines[0].get_ydata().tolist() == [1.0, 1.0]  # good finds both a's


def test_pr_single_run_ap_in_titles_and_notes_on_empty_panels(runs):
    fig = plot_pr_curves(runs["poor"], NAMES)
    ap_a = 100 * runs["poor"]["per_class_AP50"][0]
    assert [ax.get_title() for ax in fig.axes[:3]] == [f"a: AP50 {ap_a:.1f}", "b: AP50 0.0",
                                                       "c: AP50 0.0"]
    notes = [[t.get_text() for t in ax.texts] for ax in fig.axes[:3]]
    assert notes == [[], ["AP50 0"], ["no detections"]]
    assert fig.axes[0].get_legend() is None


def test_pr_curves_select_classes_and_refuse_bad_inputs(runs):
    fig = plot_pr_curves(runs, NAMES, classes=["c"])
    assert [ax.get_title() for ax in fig.axes] == ["c"]
    four = {n: evaluate_rotated([{"boxes": torch.zeros(0, 5), "scores": torch.zeros(0),
                                  "labels": torch.zeros(0, dtype=torch.long)}],
                                [{"boxes": torch.tensor([_box(50)]), "labels": torch.tensor([0])}],
                                num_classes=4) for n in runs}
    fig = plot_pr_curves(four, [*NAMES, "d"], classes=["a", "d"])  # d: no GT anywhere
    assert [[t.get_text() for t in ax.texts] for ax in fig.axes] == [["no detections"],
                                                                     ["no ground truth"]]
    with pytest.raises(ValueError, match="class_names has 2 entries for 3 classes in run 'good'"):
        plot_pr_curves(runs, NAMES[:2])
    with pytest.raises(ValueError, match="no curve at IoU 0.42"):
        plot_pr_curves(runs, NAMES, iou_threshold=0.42)


def test_iou_calibration_bins():
    predicted, true = np.array([0.05, 0.15, 0.95, 0.91]), np.array([0.1, 0.2, 0.8, 1.0])
    fig = plot_iou_calibration(predicted, true)
    binned = fig.axes[0].lines[0]
    assert binned.get_ydata().tolist() == pytest.approx([0.1, 0.2, 0.9])


def test_iou_loss_floor_points_and_curve():
    t, bce = np.array([0.5, 0.25]), np.array([0.8, 0.6])
    fig = plot_iou_loss_floor(t, bce)
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets().tolist() == [[0.5, 0.4], [0.25, 0.3]]  # 0.5 x BCE
    floor = ax.lines[0]
    x, y = floor.get_xdata(), floor.get_ydata()
    assert y[np.argmin(abs(x - 0.5))] == pytest.approx(0.5 * np.log(2))  # 0.5 x H(0.5)
    assert "loss_iou (mean) 0.350" in _legend_texts(ax)
    with pytest.raises(ValueError, match="no positives"):
        plot_iou_loss_floor([], [])


def _by_size(runs):
    return {n: {"small": {"AP50": 0.5}, "large": {"AP50": 1.0}} for n in runs}


def test_ap_breakdown_bars_and_bad_inputs(runs):
    fig = plot_ap_breakdown(runs, NAMES, by_size=_by_size(runs))
    bars = [p.get_height() for p in fig.axes[0].patches]
    assert bars == pytest.approx([100 * v for n in runs for v in runs[n]["per_class_AP50"]])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(runs)
    with pytest.raises(ValueError, match="class_names"):
        plot_ap_breakdown(runs, NAMES[:2])


def _every_figure(runs):
    yield plot_loss_curves(_history(), warmup_iters=8)
    yield plot_pr_curves(runs, NAMES)
    yield plot_pr_curves(runs["poor"], NAMES)
    yield plot_iou_calibration([0.1, 0.9], [0.2, 0.8])
    yield plot_iou_loss_floor([0.5, 0.25], [0.8, 0.6])
    yield plot_ap_breakdown(runs, NAMES, by_size=_by_size(runs))


def test_every_figure_is_readable(runs):
    for fig in _every_figure(runs):
        fig.canvas.draw()
        assert fig.dpi >= DPI
        small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig)
                 if t.get_fontsize() < FONT_SIZE]
        assert not small, small
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.axison)


@pytest.mark.parametrize("draw", [lambda **kw: plot_iou_calibration([0.1, 0.9], [0.2, 0.8], **kw),
                                  lambda **kw: plot_iou_loss_floor([0.5], [0.8], **kw)])
def test_single_panel_functions_honour_ax_and_figsize(draw):
    fig, (left, right) = plt.subplots(1, 2)
    assert draw(ax=right) is fig and right.has_data() and not left.has_data()
    assert tuple(draw(figsize=(5, 4)).get_size_inches()) == (5, 4)
    with pytest.raises(ValueError, match="not both"):
        draw(ax=right, figsize=(5, 4))


def test_multi_panel_functions_honour_figsize(runs):
    for fig in (plot_loss_curves(_history(), figsize=(9, 3)),
                plot_pr_curves(runs, NAMES, figsize=(9, 3)),
                plot_ap_breakdown(runs, NAMES, figsize=(9, 3))):
        assert tuple(fig.get_size_inches()) == (9, 3)
