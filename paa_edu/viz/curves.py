"""Curves of training and evaluation: losses, the IoU branch's loss against its entropy floor,
precision-recall, IoU calibration, AP by class and object size."""
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from paa_edu.evaluation.iou_floor import binary_entropy
from paa_edu.viz.style import (
    BLACK,
    DPI,
    FONT_SIZE,
    GREEN,
    ORANGE,
    PALETTE,
    SKY_BLUE,
    VERMILLION,
    check_length,
    figure_and_axes,
    grouped_bars,
    palette_color,
    panels,
)

LOSS_KEYS = ("loss", "loss_cls", "loss_bbox", "loss_iou")
LOSS_LABELS = {"loss": "sum of the terms", "loss_cls": "focal loss / positives",
               "loss_bbox": "IoU-weighted -log IoU", "loss_iou": "0.5 x BCE of the IoU branch"}
RUN_STYLES = ("-", "--", "-.", ":")  # with the colour: runs stay apart where their lines overlap


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (sums[1:] - sums[starts]) / counts


def _readable(ax: Axes) -> None:
    """Ticks and axis labels at :data:`FONT_SIZE` at least."""
    ax.tick_params(labelsize=FONT_SIZE)
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        label.set_fontsize(max(label.get_fontsize(), FONT_SIZE))


def _series(history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(iterations, values) of the rows that hold ``key`` (``log.csv``'s eval rows do not)."""
    rows = [(i, row) for i, row in enumerate(history) if row.get(key) not in (None, "")]
    return (np.array([float(row.get("iter") or i + 1) for i, row in rows]),
            np.array([float(row[key]) for _, row in rows]))


def plot_loss_curves(history: list[dict], window: int = 10, keys: list[str] | None = None,
                     warmup_iters: int | None = None, show_lr: bool | None = None,
                     figsize=None) -> Figure:
    """Total and per-term training losses against the iteration, raw and smoothed.

    ``history`` has one dict per iteration with ``iter``, some of :data:`LOSS_KEYS` and optionally
    ``lr``: ``train(cfg)["history"]``, or ``csv.DictReader`` rows of a run's ``log.csv`` (strings;
    rows without a term are skipped for that term). One panel per term of ``keys`` (default: those
    present), and one of the learning rate with ``show_lr`` (default: when the rows have ``lr``),
    the legend below. The smoothed line is the mean of the last ``window`` iterations; iterations
    up to ``warmup_iters`` (``cfg.train.warmup_iters``) are shaded as the warm-up."""
    if not isinstance(history, (list, tuple)) or not all(isinstance(r, dict) for r in history):
        raise TypeError(f"history must be a list of dicts (train(cfg)['history'], or the rows "
                        f"of log.csv), got {type(history).__name__} {history!r:.60}")
    if window < 1:  # a window of 0 would draw nothing but NaN
        raise ValueError(f"window must be >= 1, got {window}")
    if keys is None:
        keys = [k for k in LOSS_KEYS if any(row.get(k) not in (None, "") for row in history)]
    if show_lr is None:
        show_lr = any(row.get("lr") not in (None, "") for row in history)
    names = list(keys) + (["lr"] if show_lr else [])
    series = {k: _series(history, k) for k in names}  # (iterations, values) each
    empty = ", ".join(repr(k) for k in names if len(series[k][0]) == 0)
    if empty:  # it would be an empty panel
        raise ValueError(f"history has no {empty} values (for 'lr': pass show_lr=False)")
    fig, axes = panels(len(names), ncols=len(names),
                       figsize=figsize or (3.0 * len(names), 2.9))
    for ax, key in zip(axes, names):
        iters, values = series[key]
        if warmup_iters and iters.min() <= warmup_iters:
            ax.axvspan(iters.min(), min(warmup_iters, iters.max()), color=ORANGE, alpha=0.15,
                       label=f"warm-up (to iter {warmup_iters})")
        if key == "lr":
            ax.plot(iters, values, color=GREEN, label="learning rate")
            ax.set(title="lr", xlabel="iteration", ylabel="learning rate")
        else:
            ax.plot(iters, values, color=SKY_BLUE, linewidth=0.8, label="per iteration")
            ax.plot(iters, _moving_average(values, window), color=PALETTE[0],
                    label=f"mean of the last {window}")
            ax.set(title=key, xlabel="iteration", ylabel=LOSS_LABELS.get(key, key))
        _readable(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    if show_lr:
        handles.append(axes[-1].lines[0])
        labels.append("learning rate")
    ncol = min(len(labels), 2 * len(names))
    fig.tight_layout(rect=(0, 0.04 + 0.06 * math.ceil(len(labels) / ncol), 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=FONT_SIZE,
               frameon=False)  # below the panels: the curves stay visible
    return fig


def plot_iou_loss_floor(targets, bce, weight: float = 0.5, ax=None, figsize=None) -> Figure:
    """Each positive's IoU-branch loss ``bce`` (P,) against its target t in [0, 1] (both from
    :func:`~paa_edu.evaluation.iou_floor.iou_loss_floor`), above the floor H(t); all scaled by
    ``weight`` (``cfg.model.iou_weight``), as ``loss_iou`` is."""
    t, loss = np.asarray(targets, dtype=float), np.asarray(bce, dtype=float)
    if len(t) == 0:  # the means would be NaN
        raise ValueError("no positives: nothing to plot")
    fig, ax = figure_and_axes(ax, figsize, (4.2, 3.4))
    grid = np.linspace(0, 1, 201)
    ax.scatter(t, weight * loss, s=8, alpha=0.5, color=SKY_BLUE, label="positives")
    ax.plot(grid, weight * binary_entropy(grid).numpy(), color=VERMILLION,
            label=f"floor {weight:g} x H(t)")
    mean_loss, mean_floor = weight * loss.mean(), weight * binary_entropy(t).numpy().mean()
    ax.axhline(mean_loss, color=BLACK, linestyle="--", linewidth=1,
               label=f"loss_iou (mean) {mean_loss:.3f}")
    ax.axhline(mean_floor, color=VERMILLION, linestyle=":", linewidth=1.2,
               label=f"mean floor {mean_floor:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, None), xlabel="IoU target t of the positive",
           ylabel=f"{weight:g} x BCE(t, predicted IoU)")
    ax.legend(fontsize=FONT_SIZE, loc="lower center")  # under the arc: no positive lies there
    _readable(ax)
    fig.tight_layout()
    return fig


def plot_pr_curves(metrics: dict, class_names: list[str], iou_threshold: float = 0.5,
                   ncols: int = 4, classes: list[str] | None = None, figsize=None) -> Figure:
    """Precision-recall curves at ``iou_threshold`` (one the metrics were computed at), one panel
    per class of ``classes`` (default: every class with ground truth).

    ``metrics`` is a result of :func:`paa_edu.evaluation.rotated_ap.evaluate_rotated` (its AP in
    the panel titles), or ``{run name: result}`` (e.g. one per assigner): one line per run, its AP
    in the legend. A panel where no run has a detection says "no detections", one where none
    matches "AP 0" (e.g. "AP50 0"), a class chosen without GT "no ground truth"."""
    single = "curves" in metrics
    runs = {"": metrics} if single else dict(metrics)
    t, thr = {}, {}  # the index of iou_threshold in each run's thresholds, and its stored value
    for name, m in runs.items():
        t[name] = next((i for i, v in enumerate(m["iou_thresholds"])
                        if math.isclose(v, iou_threshold)), None)
        if t[name] is None:
            raise ValueError(f"metrics holds no curve at IoU {iou_threshold} (it has "
                             f"{list(m['iou_thresholds'])})")
        thr[name] = m["iou_thresholds"][t[name]]
        check_length(class_names, len(m["num_gts"]), "class_names",  # else wrong titles
                     of=f"classes{f' in run {name!r}' if name else ''}")
    if classes is not None:
        shown = [list(class_names).index(c) for c in classes]
    else:
        shown = [c for c in range(len(class_names))
                 if any(m["num_gts"][c] > 0 for m in runs.values())]
    if not shown:
        raise ValueError("no class has ground truth: there is no precision-recall curve")
    ap_name = f"AP{round(100 * iou_threshold)}"
    ncols = min(ncols, len(shown))
    rows = math.ceil(len(shown) / ncols)
    fig, axes = panels(len(shown), ncols, figsize=figsize or (3.3 * ncols, (3.0 if single
                                                                            else 4.0) * rows))
    for ax, cls in zip(axes, shown):
        aps, sizes = [], []
        for i, (name, m) in enumerate(runs.items()):
            curve = m["curves"][(cls, thr[name])]
            ap = float(m["per_class_AP"][t[name], cls])
            aps.append(0.0 if math.isnan(ap) else ap)
            sizes.append(len(curve["recall"]))
            label = f"{name}: {100 * aps[-1]:.1f}" + ("" if sizes[-1] else " (no detections)")
            ax.plot(curve["recall"], curve["precision"], color=palette_color(i), label=label,
                    linestyle=RUN_STYLES[i % len(RUN_STYLES)], linewidth=1.6)
        title = class_names[cls] + ("" if not single else f": {ap_name} {100 * aps[0]:.1f}")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
        note = ("no ground truth" if not any(m["num_gts"][cls] for m in runs.values())
                else "no detections" if not any(sizes) else f"{ap_name} 0" if not any(aps)
                else "")
        if note:
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                    fontsize=FONT_SIZE + 1, color=VERMILLION)
        if not single:
            ax.legend(fontsize=FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                      ncol=2, title=ap_name, title_fontsize=FONT_SIZE, handlelength=1.8,
                      columnspacing=1.0, frameon=False)  # below the panel: curves stay visible
        _readable(ax)
    fig.suptitle(f"precision-recall at IoU {iou_threshold:g}", fontsize=FONT_SIZE + 2)
    fig.tight_layout()
    return fig


def plot_iou_calibration(predicted, true, num_bins: int = 10, ax=None, figsize=None) -> Figure:
    """Scatter of ``predicted`` (D,), the IoU branch's estimate of each detection, against
    ``true`` (D,), its IoU with its best GT, with the mean true IoU in each of ``num_bins`` equal
    bins of the predicted IoU: a calibrated IoU branch puts them on the diagonal."""
    predicted, true = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    fig, ax = figure_and_axes(ax, figsize, (3.8, 3.6))
    ax.scatter(predicted, true, s=5, alpha=0.3, color=SKY_BLUE, label="detections")
    edges = np.linspace(0, 1, num_bins + 1)
    bins = np.clip(np.digitize(predicted, edges) - 1, 0, num_bins - 1)
    filled = [b for b in range(num_bins) if (bins == b).any()]
    centres = [(edges[b] + edges[b + 1]) / 2 for b in filled]
    ax.plot(centres, [true[bins == b].mean() for b in filled], "o-", color=VERMILLION,
            label="mean per bin")
    ax.plot([0, 1], [0, 1], "--", color=BLACK, linewidth=0.8, label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted IoU", ylabel="true IoU")
    ax.legend(fontsize=FONT_SIZE, loc="upper left")
    _readable(ax)
    fig.tight_layout()
    return fig


def plot_ap_breakdown(per_class: dict[str, dict], class_names: list[str],
                      by_size: dict[str, dict] | None = None, key: str = "AP50",
                      figsize=None) -> Figure:
    """AP50 by run (e.g. assigner) and class, and ``key`` (``AP50``, ``AP75`` or ``mAP``) by object
    size, as grouped bars; the legend below the panels. ``per_class`` maps run names to
    :func:`paa_edu.evaluation.rotated_ap.evaluate_rotated` results, ``by_size`` the same runs to
    :func:`paa_edu.evaluation.sizes.evaluate_by_size` results (``None``: the class panel alone)."""
    for name, m in per_class.items():  # bars and class names would not line up
        check_length(class_names, len(m["per_class_AP50"]), "class_names",
                     of=f"classes in run {name!r}")
    specs = [("class", list(class_names), {n: m["per_class_AP50"] for n, m in per_class.items()})]
    if by_size:
        buckets = list(next(iter(by_size.values())))
        specs.append(("object size", buckets,
                      {n: [by_size[n][b][key] for b in buckets] for n in per_class}))
    widths = [max(4.0, 0.9 * len(groups)) for _, groups, _ in specs]
    fig, axes = plt.subplots(1, len(specs), figsize=figsize or (sum(widths), 3.8), dpi=DPI,
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for ax, (title, groups, values) in zip(axes[0], specs):
        grouped_bars(ax, {name: 100 * np.nan_to_num(np.asarray(vals, dtype=float))
                          for name, vals in values.items()}, len(groups))
        ax.set_xticks(np.arange(len(groups)), groups, rotation=30, ha="right")
        metric = "AP50" if title == "class" else key
        ax.set(title=f"{metric} by {title}", xlabel=title, ylabel=f"{metric} (%)", ylim=(0, 100))
        _readable(ax)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=FONT_SIZE,
               frameon=False)
    return fig
