"""The split's windows, overlaps and the 70 % rule, checked against the split and shapely."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from figure_checks import assert_readable
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from paa_edu import data
from paa_edu.data.dota import LabelFile
from paa_edu.data.split import window_origins
from paa_edu.viz import plot_object_in_window, plot_windows
from paa_edu.viz.windows import (
    match_written,
    object_iof,
    object_status,
    overlap_strips,
    window_coverage,
    window_names,
)


def _scene(seed=7, size=(300, 420)):
    scene = data.SceneConfig(object_size=(12.0, 60.0), num_objects=(30, 30))
    return data.make_scene(seed=seed, size=size, config=scene)  # image, (M, 8), labels


def test_window_names_are_the_files_the_split_writes(tmp_path):
    image, polys, labels = _scene()
    names = [data.SYNTHETIC_CLASSES[i] for i in labels]
    data.write_dota_sample(tmp_path / "large", "P0007", image, polys, names)
    data.split_dataset(tmp_path / "large", tmp_path / "out", patch_size=160, overlap=40,
                       progress=False)
    written = sorted(p.stem for p in (tmp_path / "out" / "images").iterdir())
    ours = window_names("P0007", 420, 300, patch_size=160, overlap=40)
    assert len(ours) == len(set(ours)) == 4 * 3 and sorted(ours) == written
    # x starts 0, 120, 240, 260 (the last one ends at 420); rows outer
    assert ours[:5] == ["P0007__160__0___0", "P0007__160__120___0", "P0007__160__240___0",
                        "P0007__160__260___0", "P0007__160__0___120"]


def test_overlap_strips_and_coverage_by_hand():
    assert overlap_strips([0, 824, 976], 1024) == [(824, 1024), (976, 1848)]
    assert overlap_strips([0], 1024) == []
    assert overlap_strips([0, 100, 200], 100) == []  # overlap 0: windows only touch
    # 2000 x 1500 image: x windows 0, 824, 976; y windows 0, 476
    points = [[100, 100], [900, 100], [1000, 500], [1900, 500], [1900, 1400]]
    assert window_coverage(points, 2000, 1500).tolist() == [1, 2, 6, 2, 1]
    assert window_origins(2000, 1500)[:4] == [(0, 0), (824, 0), (976, 0), (0, 476)]


def test_object_iof_by_hand():
    # window [0, 100]^2; areas worked by hand
    square = [95, 0, 105, 0, 105, 10, 95, 10]  # half inside
    corner = [95, 95, 105, 95, 105, 105, 95, 105]  # a quarter inside
    diamond = [90, 50, 100, 40, 110, 50, 100, 60]  # half-diagonal 10 on the border: half
    tip = [95, 50, 105, 40, 115, 50, 105, 60]  # only the triangle x <= 100: 25 of 200
    outside = [200, 200, 210, 200, 210, 210, 200, 210]
    assert object_iof([square, corner, diamond, tip, outside], 0, 0, 100) == pytest.approx(
        [0.5, 0.25, 0.5, 0.125, 0.0])
    _, status = object_status([square, tip, outside, [10, 10, 20, 10, 20, 20, 10, 20]],
                              0, 0, 100, iof_thr=0.4)
    assert status.tolist() == [2, 3, 0, 1]  # clipped, truncated, outside, whole


def test_object_status_counts_what_the_split_counts():
    image, polys, labels = _scene(seed=3)
    labels_file = LabelFile(polys.astype(np.float64), ["plane"] * len(polys),
                            np.zeros(len(polys), np.int64), list(range(1, len(polys) + 1)))
    totals = np.zeros(4, int)
    for x, y in window_origins(420, 300, 160, 40):
        written, _, flags, stats = data.split.crop_objects(labels_file, x, y, 160, iof_thr=0.7)
        _, status = object_status(polys, x, y, 160, iof_thr=0.7)
        counts = np.bincount(status, minlength=4)
        assert counts[1:].tolist() == [stats.objects_whole, stats.objects_clipped,
                                       stats.objects_truncated + stats.objects_dropped]
        assert int((flags == 2).sum()) == stats.objects_truncated
        # the split writes the objects it keeps in order: match_written finds each one again
        kept = np.nonzero(status > 0)[0]
        if stats.objects_dropped == 0:
            shifted = written + np.tile([x, y], 4)
            assert [match_written(shifted, polys[i], (x, y, 160)) for i in kept] == \
                list(range(len(kept)))
            assert (flags[status[kept] == 3] == 2).all() and (flags[status[kept] < 3] == 0).all()
        totals += counts
    assert totals[3] > 0 and totals[2] > 0  # the scene really has both kinds
    with pytest.raises(ValueError, match="outside the window"):
        match_written(polys[:1], [500, 500, 510, 500, 510, 510, 500, 510], (0, 0, 160))


def test_plot_windows_one_colour_and_one_name_per_window():
    image = np.zeros((1500, 2000, 3), np.uint8)
    fig = plot_windows(image)
    ax = fig.axes[0]
    rects = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(rects) == 6
    assert len({to_hex(r.get_edgecolor()) for r in rects}) == 6
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1:] == [f"{k + 1}: {n}" for k, n in enumerate(window_names("P0001", 2000,
                                                                                 1500))]
    assert "P0001__1024__976___476" in legend[-1]
    spans = [p for p in ax.patches if p.get_fill()]
    assert len(spans) == 3  # x strips (824, 1024), (976, 1848); y strip (476, 1024)
    assert_readable(fig)


def test_plot_windows_honours_ax_and_figsize():
    image = np.zeros((300, 420, 3), np.uint8)
    own_fig, own_ax = plt.subplots()
    assert plot_windows(image, 160, 40, ax=own_ax) is own_fig
    assert tuple(plot_windows(image, 160, 40, figsize=(4, 3)).get_size_inches()) == (4, 3)


def test_plot_object_in_window_states_iof_and_difficulty():
    image = np.zeros((200, 200, 3), np.uint8)
    poly = [90, 40, 130, 40, 130, 60, 90, 60]  # 10 of its 40 px inside x < 100: IoF 0.25
    fig = plot_object_in_window(image, poly, (0, 0, 100), difficult=2,
                                written=[[90, 40, 100, 40, 100, 60, 90, 60]])
    title = fig.axes[0].get_title()
    assert title.startswith("IoF 0.25 < 0.7: truncated") and "difficult=2" in title
    kept = plot_object_in_window(image, [85, 40, 105, 40, 105, 60, 85, 60], (0, 0, 100))
    assert kept.axes[0].get_title() == "IoF 0.75 >= 0.7: clipped"
    assert_readable(fig)
    own_fig, own_ax = plt.subplots()
    assert plot_object_in_window(image, poly, (0, 0, 100), ax=own_ax) is own_fig
