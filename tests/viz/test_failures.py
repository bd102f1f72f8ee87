"""plot_failure_gallery draws one zoomed, titled crop per case, in the colours of the
detection plots, at >= 100 dpi with no text under 9 pt."""
from __future__ import annotations

import matplotlib
import pytest
import torch
from matplotlib.text import Text

from paa_edu.evaluation.failures import describe, failure_cases
from paa_edu.viz import plot_failure_gallery
from paa_edu.viz.style import DPI, FONT_SIZE, FP_COLOR, GT_COLOR, MISSED_COLOR

NAMES = ["car", "ship"]


@pytest.fixture
def cases():
    """The scene of tests/test_evaluation_failures.py: 2 misses, 4 false positives."""
    gt = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 20, 10, 10, 0],
                                 [20, 60, 10, 10, 0]]), "labels": torch.tensor([0, 1, 0])}
    det = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [21, 20, 10, 10, 0],
                                  [60, 20, 10, 10, 0], [25, 60, 10, 10, 0],
                                  [90, 90, 10, 10, 0]]),
           "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95]),
           "labels": torch.tensor([0, 0, 0, 0, 1])}
    out = failure_cases([det], [gt])
    return out["missed"] + out["false positive"]


def _hex(c):
    return matplotlib.colors.to_hex(c)


def test_one_titled_crop_per_case_zoomed_on_its_box(cases):
    fig = plot_failure_gallery(cases, [torch.rand(3, 100, 100)], NAMES, ncols=3, margin=5.0)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in shown] == [describe(c, NAMES) for c in cases]
    ax = shown[0]  # the missed ship at (60, 20), 10 px wide: 5 + 5 px margin each side
    assert ax.get_xlim() == pytest.approx((50, 70)) and ax.get_ylim() == pytest.approx((30, 10))
    assert [_hex(p.get_edgecolor()) for p in ax.patches] == [_hex(FP_COLOR),
                                                              _hex(MISSED_COLOR)]
    assert ax.patches[1].get_linestyle() == "--"
    dup = shown[3]  # the duplicate over the found car: GT sky blue, the FP vermillion
    assert [_hex(p.get_edgecolor()) for p in dup.patches] == [_hex(GT_COLOR), _hex(FP_COLOR)]
    assert len(shown[2].patches) == 1  # background: no GT near it
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["missed object", "found object", "false positive"]  # no TP drawn


def test_dpi_fonts_and_figsize(cases):
    fig = plot_failure_gallery(cases, [None], NAMES)
    assert fig.dpi >= DPI
    assert tuple(fig.get_size_inches()) == pytest.approx((4 * 2.4, 2 * 2.4))
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= FONT_SIZE
    fig = plot_failure_gallery(cases[:2], [None], NAMES, figsize=(6, 3))
    assert tuple(fig.get_size_inches()) == (6, 3)
