"""Curves of training and evaluation (matplotlib; each function returns the Figure).

- :func:`plot_loss_curves`: the per-iteration losses that :func:`paa_edu.train.train` returns.
- :func:`plot_pr_curves`: precision-recall curves from :func:`paa_edu.evaluation.evaluate_rotated`.
- :func:`plot_iou_calibration`: the IoU branch's estimate against the true IoU of each detection
  (:func:`paa_edu.evaluation.iou_calibration`).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from paa_edu.viz.boxes import DPI

LOSS_KEYS = ("loss", "loss_cls", "loss_bbox", "loss_iou")


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (sums[1:] - sums[starts]) / counts


def plot_loss_curves(history: list[dict], window: int = 10) -> Figure:
    """Total and per-term training losses against the iteration, raw and smoothed.

    Args:
        history: one dict per iteration with ``iter`` and some of :data:`LOSS_KEYS`.
        window: moving-average window of the smoothed line.
    """
    if not history:
        raise ValueError("history is empty: nothing was trained")
    keys = [k for k in LOSS_KEYS if k in history[0]]
    iters = np.array([row.get("iter", i + 1) for i, row in enumerate(history)])
    fig, axes = plt.subplots(1, len(keys), figsize=(2.8 * len(keys), 2.6), dpi=DPI,
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = np.array([row[key] for row in history], dtype=float)
        ax.plot(iters, values, color="tab:blue", alpha=0.3, linewidth=0.8)
        ax.plot(iters, _moving_average(values, window), color="tab:blue")
        ax.set(title=key, xlabel="iteration")
    fig.tight_layout()
    return fig


def plot_pr_curves(metrics: dict, class_names: list[str], iou_threshold: float = 0.5,
                   ncols: int = 4) -> Figure:
    """One precision-recall curve per class with (non-difficult) ground truth.

    Args:
        metrics: the dict of :func:`paa_edu.evaluation.evaluate_rotated` (``curves``,
            ``num_gts``).
        class_names: names indexed by class.
    """
    curves = {cls: c for (cls, thr), c in metrics["curves"].items()
              if math.isclose(thr, iou_threshold) and metrics["num_gts"][cls] > 0}
    if not curves:
        raise ValueError(f"metrics holds no curve at IoU {iou_threshold}")
    classes = sorted(curves)
    ncols = min(ncols, len(classes))
    nrows = math.ceil(len(classes) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.4 * nrows), dpi=DPI,
                             squeeze=False)
    for ax in axes.flat[len(classes):]:
        ax.axis("off")
    for ax, cls in zip(axes.flat, classes):
        ax.plot(curves[cls]["recall"], curves[cls]["precision"], color="tab:green")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        ax.set_title(class_names[cls], fontsize=9)
    fig.suptitle(f"precision-recall at IoU {iou_threshold}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_iou_calibration(predicted: np.ndarray, true: np.ndarray, num_bins: int = 10) -> Figure:
    """Scatter of predicted vs true IoU, with the mean true IoU per predicted-IoU bin.

    A calibrated IoU branch puts the binned means on the diagonal.
    """
    predicted, true = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    if predicted.shape != true.shape or predicted.ndim != 1:
        raise ValueError(f"predicted and true must be 1-D of one length, got {predicted.shape} "
                         f"and {true.shape}")
    fig, ax = plt.subplots(figsize=(3.4, 3.2), dpi=DPI)
    ax.scatter(predicted, true, s=4, alpha=0.3, color="tab:gray", label="detections")
    edges = np.linspace(0, 1, num_bins + 1)
    bins = np.clip(np.digitize(predicted, edges) - 1, 0, num_bins - 1)
    filled = [b for b in range(num_bins) if (bins == b).any()]
    centres = [(edges[b] + edges[b + 1]) / 2 for b in filled]
    ax.plot(centres, [true[bins == b].mean() for b in filled], "o-", color="tab:red",
            label="mean per bin")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted IoU", ylabel="true IoU")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_ap_breakdown(per_class: dict[str, dict], class_names: list[str],
                      by_size: dict[str, dict] | None = None, key: str = "AP50") -> Figure:
    """AP50 by assigner and class (and by object size), grouped bars.

    Args:
        per_class: assigner name -> :func:`paa_edu.evaluation.evaluate_rotated` result.
        class_names: the C class names.
        by_size: assigner name -> :func:`paa_edu.evaluation_sizes.evaluate_by_size` result.
        key: the metric of the size panel (``AP50``, ``AP75`` or ``mAP``).
    """
    if not per_class:
        raise ValueError("per_class is empty: pass {assigner: metrics}")
    panels = [("class", class_names, {n: m["per_class_AP50"] for n, m in per_class.items()})]
    if by_size:
        buckets = list(next(iter(by_size.values())))
        panels.append(("object size", buckets,
                       {n: [r[b][key] for b in buckets] for n, r in by_size.items()}))
    widths = [max(4.0, 0.9 * len(p[1])) for p in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(sum(widths), 3.0), dpi=DPI,
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for ax, (title, groups, values) in zip(axes[0], panels):
        step = 0.8 / len(values)
        for i, (name, vals) in enumerate(values.items()):
            xs = np.arange(len(groups)) + (i - (len(values) - 1) / 2) * step
            ax.bar(xs, 100 * np.nan_to_num(np.asarray(vals, dtype=float)), step, label=name)
        ax.set_xticks(np.arange(len(groups)), groups, rotation=30, ha="right", fontsize=7)
        ax.set(title=f"AP50 by {title}" if title == "class" else f"{key} by {title}",
               ylabel="AP (%)", ylim=(0, 100))
    axes[0][0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig
