"""The assignment of the same objects over training, from :mod:`paa_edu.snapshots`.

- :func:`plot_split_over_training`: PAA's split of the same 3-4 GTs at several iterations
  (rows = GTs, columns = iterations): the paper's claim that the split adapts to the model.
- :func:`plot_positives_over_training`: positives per GT against the iteration, one panel per
  run (MaxIoU and ATSS are fixed by geometry; PAA's change as the model learns).
- :func:`plot_cut_over_training`: the GMM cut (largest positive score) of each GT.

``snapshots`` is a list of snapshot dicts in iteration order (:func:`load_snapshots` or
:func:`paa_edu.pretrained.load_snapshot_history`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from paa_edu.snapshots import paa_record, positives_history
from paa_edu.viz.boxes import DPI, new_figure
from paa_edu.viz.gmm import draw_gmm_split


def _paa_name(snapshots: list[dict], assigner: str | None) -> str:
    if not snapshots:
        raise ValueError("snapshots is empty")
    name = assigner or snapshots[0]["trained_with"]
    if not name.startswith("paa"):
        raise ValueError(f"{name!r} is not a PAA assignment: pass assigner='paa_maxiou' or "
                         f"'paa_atss' (snapshots written by train.snapshot_every hold both)")
    return name


def default_gts(snapshots: list[dict], assigner: str | None = None, n: int = 4) -> list[int]:
    """The ``n`` GTs with the most PAA candidates in the last snapshot (ties: lower index)."""
    e = snapshots[-1]["assigners"][_paa_name(snapshots, assigner)]
    counts = e["cand_valid"].sum(1).numpy()  # (G,)
    return [int(g) for g in np.argsort(-counts, kind="stable")[:n]]


def plot_split_over_training(snapshots: list[dict], gts: list[int] | None = None,
                             num_iterations: int = 4, assigner: str | None = None) -> Figure:
    """PAA's GMM split of the same GTs at ``num_iterations`` evenly spaced snapshots."""
    name = _paa_name(snapshots, assigner)
    gts = default_gts(snapshots, name) if gts is None else list(gts)
    picks = np.unique(np.linspace(0, len(snapshots) - 1, num_iterations).round().astype(int))
    fig, axes = new_figure(len(gts) * len(picks), ncols=len(picks), panel_size=2.8)
    for r, gt in enumerate(gts):
        for c, s in enumerate(picks):
            ax = axes[r * len(picks) + c]
            draw_gmm_split(ax, paa_record(snapshots[s], name), int(gt))
            ax.set_title(f"iter {snapshots[s]['iteration']} | {ax.get_title()}", fontsize=8)
            if (r, c) != (0, 0) and ax.get_legend() is not None:
                ax.get_legend().remove()  # one legend is enough
    fig.suptitle(f"{name}: the split of the same objects over training", fontsize=10)
    fig.tight_layout()
    return fig


def plot_positives_over_training(histories: dict[str, list[dict]], gts: list[int] | None = None
                                 ) -> Figure:
    """Positives per GT against the iteration, one panel per run ``{name: snapshots}``."""
    if not histories:
        raise ValueError("histories is empty: pass {name: snapshots}")
    fig, axes = plt.subplots(1, len(histories), figsize=(3.0 * len(histories), 2.6), dpi=DPI,
                             squeeze=False, sharey=True)
    for ax, (name, snaps) in zip(axes[0], histories.items()):
        iters, counts = positives_history(snaps, name)  # (S,), (S, G)
        shown = counts if gts is None else counts[:, list(gts)]
        ax.plot(iters.numpy(), shown.numpy(), color="tab:blue", alpha=0.35, linewidth=0.8)
        ax.plot(iters.numpy(), counts.double().mean(1).numpy(), color="k", linewidth=2,
                label="mean over GTs")
        ax.set(title=name, xlabel="iteration")
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("positives per GT")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_cut_over_training(snapshots: list[dict], gts: list[int] | None = None,
                           assigner: str | None = None) -> Figure:
    """The GMM cut (largest positive score, lower = stricter) of each GT over training."""
    name = _paa_name(snapshots, assigner)
    gts = default_gts(snapshots, name) if gts is None else list(gts)
    iters = [s["iteration"] for s in snapshots]
    fig, (ax,) = new_figure(1, panel_size=3.6)
    for gt in gts:
        cuts = [float(s["assigners"][name]["cut"][gt]) for s in snapshots]
        ax.plot(iters, cuts, marker=".", label=f"GT {gt}")
    ax.set(title=f"{name}: GMM cut per GT", xlabel="iteration", ylabel="cut (anchor score)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
