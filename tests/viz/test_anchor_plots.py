"""The anchor-grid plots: IoU maps in feature-map order, the nearest anchors, the titles."""
from __future__ import annotations

import pytest
import torch
from matplotlib.patches import Polygon
from matplotlib.text import Text

from paa_edu.viz import level_iou_maps, plot_anchor_neighbourhood, plot_iou_heatmap
from paa_edu.viz.style import DPI, FONT_SIZE, VERMILLION

# One level of 2 x 3 cells, stride 10, 20 px anchors centred on (10 j, 10 i), row-major.
LEVEL = torch.tensor([[10.0 * j, 10.0 * i, 20, 20, 0] for i in range(2) for j in range(3)])
# 4 x 4 px, x 13..17, y 8..12: inside the anchors of cells (1, 1) and (1, 2) (IoU 16/400),
# 4 x 2 px of it inside those of cells (0, 1) and (0, 2) (IoU 8/408), apart from the others.
SMALL = torch.tensor([15.0, 10, 4, 4, 0])


def test_level_iou_maps_are_in_feature_map_order():
    # The anchor of cell (1, 2) itself: 1 there, 200/600 beside it, 100/700 diagonally.
    same = level_iou_maps(torch.tensor([20.0, 10, 20, 20, 0]), [LEVEL], [(2, 3)])
    torch.testing.assert_close(same[0], torch.tensor([[0.0, 1 / 7, 1 / 3], [0, 1 / 3, 1]]),
                               atol=1e-5, rtol=0)
    small = level_iou_maps(SMALL[None], [LEVEL], [(2, 3)])[0]  # (1, 5) works too
    torch.testing.assert_close(small, torch.tensor([[0.0, 8 / 408, 8 / 408], [0, 0.04, 0.04]]),
                               atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="one anchor per location"):
        level_iou_maps(SMALL, [LEVEL], [(3, 3)])
    with pytest.raises(ValueError, match="one box"):
        level_iou_maps(torch.stack([SMALL, SMALL]), [LEVEL], [(2, 3)])


def test_iou_heatmap_outlines_the_tied_best_anchors():
    coarse = torch.tensor([[0.0, 0, 40, 40, 0]])  # one 1 x 1 level, stride 40
    fig = plot_iou_heatmap(None, SMALL, [LEVEL, coarse], [(2, 3), (1, 1)], [10, 40],
                           margin=5.0)
    ax = fig.axes[0]
    assert ax.get_title() == "stride 10: best IoU 0.040\n2 anchor(s) tied at it"
    assert ax.images[-1].get_extent() == [-5.0, 25.0, 15.0, -5.0]  # cells around the centres
    tied = [p for p in ax.patches if isinstance(p, Polygon) and p.get_edgecolor()[:3]
            == pytest.approx((0xD5 / 255, 0x5E / 255, 0x00 / 255))]
    assert len(tied) == 2 and VERMILLION == "#D55E00"
    assert fig.axes[1].get_title().endswith("1 anchor(s) tied at it")
    assert any("IoU" in a.get_ylabel() for a in fig.axes[2:])  # the colour bar


def test_anchor_neighbourhood_draws_k_anchors_per_level():
    fig = plot_anchor_neighbourhood(None, SMALL, [LEVEL, LEVEL[:1]], [10, 20], k=2)
    first, second = fig.axes[:2]
    assert len(first.patches) == 3 and len(second.patches) == 2  # k (or all) + the object
    assert first.get_title() == "stride 10: 20 px anchors\nbest IoU 0.040"
    assert second.get_title().endswith("best IoU 0.000")
    with pytest.raises(ValueError, match="strides has 1 entries for 2 levels"):
        plot_anchor_neighbourhood(None, SMALL, [LEVEL, LEVEL], [10])


def test_both_plots_keep_dpi_100_and_text_of_at_least_9_pt():
    image = torch.rand(3, 20, 30)
    for fig in (plot_iou_heatmap(image, SMALL, [LEVEL], [(2, 3)], [10]),
                plot_anchor_neighbourhood(image, SMALL, [LEVEL], [10], k=4)):
        assert fig.dpi >= DPI
        fig.canvas.draw()  # makes the tick labels
        texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
        assert texts and min(t.get_fontsize() for t in texts) >= FONT_SIZE
