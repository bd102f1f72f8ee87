"""The assignment of the same objects over training, from :mod:`paa_edu.engine.snapshots`: PAA's
split adapts to the model as it learns (the paper's claim), while MaxIoU's and ATSS's positives are
fixed by geometry. ``snapshots`` is a list of snapshot dicts in iteration order
(:func:`paa_edu.pretrained.load_snapshot_history`); ``assigner``, the PAA assignment read, is
``"paa_maxiou"`` or ``"paa_atss"`` (default: the one trained with)."""
import numpy as np
from matplotlib.figure import Figure

from paa_edu.engine.snapshots import paa_record, positives_history
from paa_edu.viz.gmm import draw_gmm_split, legend_handles
from paa_edu.viz.style import (
    BLACK,
    BLUE,
    FONT_SIZE,
    box_color,
    figure_and_axes,
    label_axes,
    legend_below,
    panels,
)


def _check_gts(gts, num_gts: int) -> list[int]:
    gts = [int(g) for g in gts]
    if any(not 0 <= g < num_gts for g in gts):  # -1 would silently show the last GT
        raise ValueError(f"gts must be in [0, {num_gts}), got {gts}")
    return gts


def _paa_gts(snapshots: list[dict], gts, assigner: str | None) -> tuple[str, list[int]]:
    """The PAA assignment to read, and the GTs to show: ``gts``, or by default the 4 with the
    most candidates in the last snapshot (ties: lower index)."""
    name = assigner or snapshots[0]["trained_with"]
    if not name.startswith("paa"):
        raise ValueError(f"{name!r} is not a PAA assignment: pass assigner='paa_maxiou' or "
                         f"'paa_atss' (snapshots written by train.snapshot_every hold both)")
    last = snapshots[-1]["assigners"][name]
    if gts is None:
        counts = last["cand_valid"].sum(1).numpy()  # (G,)
        return name, [int(g) for g in np.argsort(-counts, kind="stable")[:4]]
    return name, _check_gts(gts, len(last["cut"]))


def plot_split_over_training(snapshots: list[dict], gts: list[int] | None = None,
                             num_iterations: int = 4, assigner: str | None = None,
                             figsize=None) -> Figure:
    """PAA's GMM split of the same GTs, one row each (default: the 4 with the most
    candidates), at ``num_iterations`` evenly spaced snapshots (first and last kept)."""
    name, gts = _paa_gts(snapshots, gts, assigner)
    picks = np.unique(np.linspace(0, len(snapshots) - 1, num_iterations).round().astype(int))
    fig, axes = panels(len(gts) * len(picks), ncols=len(picks), panel_size=2.8, figsize=figsize)
    for r, gt in enumerate(gts):
        for c, s in enumerate(picks):
            ax = axes[r * len(picks) + c]
            draw_gmm_split(ax, paa_record(snapshots[s], name), int(gt), legend="none")
            ax.set_title(f"iter {snapshots[s]['iteration']} | {ax.get_title()}",
                         fontsize=FONT_SIZE)  # one legend for all, under the panels
    fig.suptitle(f"{name}: the split of the same objects over training", fontsize=FONT_SIZE + 2)
    legend_below(fig, legend_handles())
    return fig


def plot_positives_over_training(histories: dict[str, list[dict]], gts: list[int] | None = None,
                                 figsize=None) -> Figure:
    """Positives per GT against the iteration, one panel per run (shared y axis). ``histories`` is
    ``{name: snapshots}`` (``name`` is also the assigner read), e.g. ``{n:
    pretrained.load_snapshot_history(n) for n in pretrained.NAMES}``; ``gts`` are drawn as thin
    lines (default: all), the mean is over all GTs."""
    size = figsize or (3.0 * len(histories), 2.8)
    fig, axes = panels(len(histories), ncols=len(histories), figsize=size, sharey=True)
    for ax, (name, snaps) in zip(axes, histories.items()):
        iters, counts = positives_history(snaps, name)  # (S,), (S, G)
        shown = counts if gts is None else counts[:, _check_gts(gts, counts.shape[1])]
        thin = ax.plot(iters.numpy(), shown.numpy(), color=BLUE, alpha=0.35, linewidth=0.8)
        if thin:
            thin[0].set_label("one GT")
        ax.plot(iters.numpy(), counts.double().mean(1).numpy(), color=BLACK, linewidth=2,
                label="mean over GTs")
        ax.set_title(name, fontsize=FONT_SIZE + 1)
        label_axes(ax, "iteration")
    axes[0].set_ylabel("positives per GT", fontsize=FONT_SIZE)
    axes[0].legend(fontsize=FONT_SIZE)
    fig.tight_layout()
    return fig


def plot_cut_over_training(snapshots: list[dict], gts: list[int] | None = None,
                           assigner: str | None = None, ax=None, figsize=None) -> Figure:
    """The GMM cut (largest positive score, lower = stricter) of each GT over training, one
    line per GT of ``gts`` (default: the 4 with the most candidates)."""
    name, gts = _paa_gts(snapshots, gts, assigner)
    iters = [s["iteration"] for s in snapshots]
    fig, ax = figure_and_axes(ax, figsize, (3.6, 3.6))
    for i, gt in enumerate(gts):
        cuts = [float(s["assigners"][name]["cut"][gt]) for s in snapshots]
        ax.plot(iters, cuts, marker=".", color=box_color(i), label=f"GT {gt}")
    ax.set_title(f"{name}: GMM cut per GT", fontsize=FONT_SIZE + 1)
    label_axes(ax, "iteration", "cut (anchor score)")
    ax.legend(fontsize=FONT_SIZE)
    fig.tight_layout()
    return fig
