"""viz.nms: the parking-lot scene, rotated vs horizontal NMS on it, and the NMS plots."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.text import Text

from paa_edu.geometry import box_iou_rotated, nms_rotated, obb2hbb
from paa_edu.viz.nms import (
    cars_kept,
    horizontal_nms,
    neighbour_iou,
    parked_cars,
    plot_nms,
    plot_nms_thresholds,
)
from paa_edu.viz.style import figure_and_axes


def test_parked_cars_hbbs_overlap_while_their_rotated_boxes_do_not():
    scene = parked_cars()  # 8 cars 40 x 16 at 45°, 3 px apart
    cars = scene.cars
    assert cars.shape == (8, 5) and scene.candidates.shape == (32, 5)
    assert scene.owner.tolist() == [i for i in range(8) for _ in range(4)]
    assert box_iou_rotated(cars, cars).fill_diagonal_(0).max() == 0  # no real overlap
    hbbs = obb2hbb(cars)
    neighbours = box_iou_rotated(hbbs[:-1], hbbs[1:], aligned=True)  # (7,)
    # By hand: each HBB is a square of side s = (40 + 16) / sqrt 2; neighbours are shifted by
    # d = 19 / sqrt 2 along x and along y, so IoU = (s - d)^2 / (2 s^2 - (s - d)^2).
    s, d = 56 / math.sqrt(2), 19 / math.sqrt(2)
    by_hand = (s - d) ** 2 / (2 * s * s - (s - d) ** 2)
    assert neighbours.tolist() == pytest.approx([by_hand] * 7, abs=1e-4)
    assert by_hand > 0.25
    again = parked_cars()
    assert torch.equal(again.candidates, scene.candidates) and torch.equal(again.scores,
                                                                           scene.scores)


def test_horizontal_nms_is_rotated_nms_on_the_hbbs_and_deletes_a_neighbour():
    # Two cars side by side at 45°: their rotated boxes do not overlap, their HBBs do.
    pair = torch.tensor([[0.0, 0.0, 40.0, 16.0, math.pi / 4],
                         [-19 / math.sqrt(2), 19 / math.sqrt(2), 40.0, 16.0, math.pi / 4]])
    scores = torch.tensor([0.9, 0.8])
    assert nms_rotated(pair, scores, 0.1).tolist() == [0, 1]
    assert horizontal_nms(pair, scores, 0.1).tolist() == [0]
    assert horizontal_nms(pair, scores, 0.5).tolist() == [0, 1]


def test_on_the_scene_at_0_1_only_rotated_nms_keeps_every_car():
    scene = parked_cars()
    rotated = nms_rotated(scene.candidates, scene.scores, 0.1)
    horizontal = horizontal_nms(scene.candidates, scene.scores, 0.1)
    assert len(rotated) == cars_kept(rotated, scene.owner) == 8  # one box per car
    assert cars_kept(horizontal, scene.owner) < 8
    iou = neighbour_iou(scene)
    assert iou["horizontal"] > 0.3 > iou["rotated"]


def test_cars_kept_counts_distinct_owners():
    owner = torch.tensor([0, 0, 1, 1, 2])
    assert cars_kept(torch.tensor([0, 1, 4]), owner) == 2
    assert cars_kept(torch.tensor([], dtype=torch.long), owner) == 0


def test_plot_nms_marks_the_winners_and_honours_ax_and_figsize():
    scene = parked_cars(n_cars=3)
    keep = nms_rotated(scene.candidates, scene.scores, 0.1)
    fig, ax = figure_and_axes(None, (5, 4), (1, 1))
    assert plot_nms(scene.candidates, scene.scores, keep, ax=ax) is fig
    (stars,) = [ln for ln in ax.lines if ln.get_gid() == "winners"]
    np.testing.assert_allclose(np.column_stack([stars.get_xdata(), stars.get_ydata()]),
                               scene.candidates[keep, :2].numpy())
    assert len(ax.patches) == len(scene.candidates) + len(keep)  # every candidate + winners
    winner = ax.patches[len(scene.candidates)]
    assert winner.get_linewidth() > ax.patches[0].get_linewidth()
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # y points down
    hbb = plot_nms(scene.candidates, scene.scores, keep, figsize=(6, 5), hbb=True)
    assert tuple(hbb.get_size_inches()) == (6, 5) and hbb.dpi >= 100
    assert len(hbb.axes[0].patches) == len(scene.candidates) + 2 * len(keep)


def test_plot_nms_refuses_bad_inputs():
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        plot_nms(torch.zeros(2, 10), torch.zeros(4), [0])
    with pytest.raises(ValueError, match="owner"):
        plot_nms_thresholds(torch.zeros(3, 5), torch.zeros(3), owner=[0, 1])


def test_threshold_panels_count_what_nms_keeps_and_are_readable():
    scene = parked_cars()
    fig = plot_nms_thresholds(scene.candidates, scene.scores, (0.1, 0.5), owner=scene.owner)
    titles = [ax.get_title() for ax in fig.axes[:4]]
    expected = []
    for kind in ("rotated", "horizontal"):
        for thr in (0.1, 0.5):
            nms = nms_rotated if kind == "rotated" else horizontal_nms
            keep = nms(scene.candidates, scene.scores, thr)
            expected.append(f"{kind} {thr:g}: {len(keep)} kept, "
                            f"{cars_kept(keep, scene.owner)} objects")
    assert titles == expected
    assert fig.dpi >= 100
    assert [t.get_text() for t in fig.findobj(Text) if t.get_text()
            and t.get_fontsize() < 9] == []
    assert tuple(plot_nms_thresholds(scene.candidates, scene.scores, (0.1,),
                                     figsize=(4, 6)).get_size_inches()) == (4, 6)
