"""viz.angles draws each convention's label of one rectangle, checked on a box worked by hand.

The box: 80 x 30 at 107° in le135. By hand: le90 wraps 107° by -180° to -73° (same w, h); oc
needs θ in (0°, 90°], so one quarter turn off gives 17° with w and h swapped (30 x 80).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.text import Text

from paa_edu.geometry import obb2poly
from paa_edu.viz.angles import (
    angle_sweep,
    label_box,
    plot_angle_conventions,
    plot_angle_sweep,
    sweep_jumps,
)

BOX = torch.tensor([100.0, 50.0, 80.0, 30.0, math.radians(107)])
BY_HAND = {"oc": (30.0, 80.0, 17.0), "le135": (80.0, 30.0, 107.0), "le90": (80.0, 30.0, -73.0)}


def _line(ax, gid):
    (line,) = [ln for ln in ax.lines if ln.get_gid() == gid]
    return np.column_stack([line.get_xdata(), line.get_ydata()])  # (P, 2)


def _small_texts(fig):
    return [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
            if t.get_text() and t.get_fontsize() < 9]


def test_each_panel_shows_the_hand_worked_label():
    fig = plot_angle_conventions(BOX)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["oc", "le135", "le90"]
    for ax, (version, (w, h, deg)) in zip(fig.axes, BY_HAND.items()):
        assert ax.get_title().split("\n")[1] == f"w={w:.0f} h={h:.0f} θ={deg:.0f}°"
        corner = _line(ax, "first-corner")[0]
        arc = next(p for p in ax.patches if p.get_gid() == "theta-arc")
        assert arc.center == pytest.approx(corner)  # centred on the first corner
        # from the x axis (0°) to θ, with its sign: matplotlib draws theta1 -> theta2
        assert (arc.theta1, arc.theta2) == pytest.approx((min(0.0, deg), max(0.0, deg)),
                                                         abs=1e-3)
        ray = _line(ax, "x-axis")
        assert ray[0] == pytest.approx(corner) and ray[1, 1] == pytest.approx(corner[1])


def test_the_thick_edge_is_the_w_edge_from_the_first_corner():
    fig = plot_angle_conventions(BOX)
    for ax, (version, (w, _, deg)) in zip(fig.axes, BY_HAND.items()):
        label = label_box(BOX, version)
        corners = obb2poly(label.reshape(1, 5))[0].reshape(4, 2).numpy()
        edge = _line(ax, "w-edge")
        np.testing.assert_allclose(edge, corners[:2], atol=1e-4)
        assert np.linalg.norm(edge[1] - edge[0]) == pytest.approx(w, abs=1e-3)
        direction = math.degrees(math.atan2(*(edge[1] - edge[0])[::-1]))
        assert direction == pytest.approx(deg, abs=1e-3)  # the w edge points along θ
        np.testing.assert_allclose(_line(ax, "first-corner")[0], corners[0], atol=1e-4)


def test_a_polygon_gives_the_same_labels_and_bad_shapes_are_refused():
    poly = obb2poly(BOX.reshape(1, 5))[0]  # (8,)
    for version in BY_HAND:
        torch.testing.assert_close(label_box(poly, version), label_box(BOX, version),
                                   atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="one box"):
        label_box(torch.zeros(2, 10), "le135")
    with pytest.raises(ValueError, match="angle version"):
        plot_angle_conventions(BOX, versions=["le45"])


def test_sweep_jumps_where_each_range_ends():
    turns, labels = angle_sweep(80.0, 30.0)
    assert len(turns) == 180 and set(labels) == {"oc", "le135", "le90"}
    le135, le90, oc = (sweep_jumps(turns, labels[v]) for v in ("le135", "le90", "oc"))
    assert le135 == {"theta": [(134.0, 135.0)], "swap": []}  # 135° wraps to -45°
    assert le90 == {"theta": [(89.0, 90.0)], "swap": []}  # 90° wraps to -90°
    # oc: 0° is outside (0°, 90°], so it is written (30, 80, 90°); past 90° w and h trade.
    assert oc == {"theta": [(0.0, 1.0), (90.0, 91.0)], "swap": [(0.0, 1.0), (90.0, 91.0)]}
    assert labels["oc"][0, 2:].tolist() == pytest.approx([30.0, 80.0, math.pi / 2])


def test_readable_and_sized():
    for fig in (plot_angle_conventions(BOX), plot_angle_sweep()):
        assert fig.dpi >= 100
        assert _small_texts(fig) == []
    assert tuple(plot_angle_conventions(BOX, figsize=(7, 3)).get_size_inches()) == (7, 3)
    fig = plot_angle_sweep(versions=("le90",), figsize=(4, 5))
    assert tuple(fig.get_size_inches()) == (4, 5) and len(fig.axes) == 2
    named = {ln.get_label(): ln.get_ydata() for ln in fig.axes[1].lines}
    assert set(named) >= {"label w", "label h"}
    assert set(named["label w"]) == {80.0} and set(named["label h"]) == {30.0}  # le90: no swap
