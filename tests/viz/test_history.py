"""Plots of snapshots (and AP breakdowns) draw what they are given, where they are asked to."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from paa_edu import pretrained  # noqa: E402
from paa_edu.viz import (  # noqa: E402
    plot_ap_breakdown,
    plot_cut_over_training,
    plot_positives_over_training,
    plot_split_over_training,
)


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
    cuts = [float(s["assigners"]["paa_maxiou"]["cut"][3]) for s in histories["paa_maxiou"]]
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), cuts)


def test_history_plots_take_ax_and_figsize(histories):
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_cut_over_training(histories["paa_atss"], gts=[1], ax=right) is fig
    assert len(right.get_lines()) == 1 and not left.get_lines()
    assert tuple(plot_cut_over_training(histories["paa_atss"], figsize=(5, 2))
                 .get_size_inches()) == (5, 2)
    fig = plot_split_over_training(histories["paa_maxiou"], gts=[0], num_iterations=2,
                                   figsize=(6, 2.5))
    assert tuple(fig.get_size_inches()) == (6, 2.5) and len(fig.axes) == 2
    fig = plot_positives_over_training(histories, figsize=(10, 2.5))
    assert tuple(fig.get_size_inches()) == (10, 2.5)


def test_history_plots_refuse_gts_out_of_range(histories):
    snaps = histories["paa_maxiou"]
    num_gts = len(snaps[-1]["assigners"]["paa_maxiou"]["cut"])
    for plot in (plot_cut_over_training, plot_split_over_training):
        msg = rf"gts must be .* \[0, {num_gts}\), got \[{num_gts}\]"
        with pytest.raises(ValueError, match=msg):
            plot(snaps, gts=[num_gts])
    with pytest.raises(ValueError, match="gts must be"):
        plot_positives_over_training(histories, gts=[-1])


def test_ap_breakdown_bars():
    per_class = {"a": {"per_class_AP50": [0.5, 1.0]},
                 "b": {"per_class_AP50": [0.25, float("nan")]}}
    by_size = {"a": {"small": {"AP50": 0.1}, "large": {"AP50": 0.9}},
               "b": {"small": {"AP50": 0.2}, "large": {"AP50": 0.8}}}
    fig = plot_ap_breakdown(per_class, ["x", "y"], by_size)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([50.0, 100.0, 25.0, 0.0])
    assert [p.get_height() for p in fig.axes[1].patches] == pytest.approx([10, 90, 20, 80])
