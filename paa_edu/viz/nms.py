"""Rotated vs horizontal NMS on a dense parking lot (:func:`parked_cars`): cars side by side at 45°
never overlap as rotated boxes, but their horizontal boxes do, so a horizontal detector's NMS
(:func:`horizontal_nms`) deletes real cars."""
import math
from typing import NamedTuple

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from paa_edu.geometry.convert import obb2hbb, obb2poly
from paa_edu.geometry.iou import box_iou_rotated
from paa_edu.geometry.nms import nms_rotated
from paa_edu.viz.boxes import plot_rotated_boxes
from paa_edu.viz.style import (
    BLACK,
    FONT_SIZE,
    add_colorbar,
    as_box_tensor,
    check_length,
    figure_and_axes,
    label_axes,
    panels,
)

SCORE_CMAP = "viridis"  # perceptually uniform and colour-blind safe
WINNER_COLOR, HBB_COLOR = BLACK, "0.45"


class ParkedCars(NamedTuple):
    """A parking-lot scene: the cars and the candidates a detector fired on them."""
    cars: Tensor        # (C, 5) cx, cy, w, h, theta: the true boxes
    candidates: Tensor  # (M, 5) cx, cy, w, h, theta: noisy copies, per_car per car
    scores: Tensor      # (M,) in [0, 1)
    owner: Tensor       # (M,) int64: the car each candidate was drawn around


def parked_cars(n_cars: int = 8, size: tuple[float, float] = (40.0, 16.0), gap: float = 3.0,
                angle_deg: float = 45.0, per_car: int = 4,
                noise: tuple[float, ...] = (2.0, 2.0, 3.0, 1.5, 4.0), seed: int = 0) -> ParkedCars:
    """Cars parked side by side at ``angle_deg``, and noisy scored candidates around each. The
    cars, ``size`` (length, width) px, have parallel long sides ``gap`` px apart, so their rotated
    boxes never overlap while their horizontal boxes do (more so near 45°). The row is centred on
    (150, 150), the same for the same arguments; ``noise`` holds the standard deviations of the
    candidates' (cx, cy, w, h) in px and of θ in degrees."""
    theta = math.radians(angle_deg)
    across = torch.tensor([-math.sin(theta), math.cos(theta)])  # (2,) the cars' short axis
    steps = torch.arange(n_cars, dtype=torch.float32) - (n_cars - 1) / 2  # (C,)
    centres = torch.tensor([150.0, 150.0]) + steps[:, None] * (size[1] + gap) * across
    shape = torch.tensor([[size[0], size[1], theta]]).repeat(n_cars, 1)  # (C, 3)
    cars = torch.cat([centres, shape], dim=1)  # (C, 5)
    generator = torch.Generator().manual_seed(seed)
    sigma = torch.tensor([*noise[:4], math.radians(noise[4])])  # (5,)
    candidates = cars.repeat_interleave(per_car, dim=0)  # (M, 5)
    candidates = candidates + torch.randn(candidates.shape, generator=generator) * sigma
    candidates[:, 2:4] = candidates[:, 2:4].clamp(min=1.0)
    scores = torch.rand(len(candidates), generator=generator)  # (M,)
    owner = torch.arange(n_cars).repeat_interleave(per_car)  # (M,)
    return ParkedCars(cars, candidates, scores, owner)


def horizontal_nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """NMS as a horizontal detector does it: :func:`nms_rotated` on the HBBs of ``boxes``
    (N, 5); (K,) indices of the kept boxes, by decreasing score."""
    return nms_rotated(obb2hbb(as_box_tensor(boxes)), scores, iou_threshold)


def cars_kept(keep: Tensor, owner: Tensor) -> int:
    """How many objects (``owner`` (M,) of each candidate) own a kept box (``keep`` (K,))."""
    return len(torch.unique(owner[keep]))


def neighbour_iou(scene: ParkedCars) -> dict[str, float]:
    """The largest IoU between two candidates of *different* cars of ``scene``,
    ``{"rotated": ..., "horizontal": ...}``: NMS with a threshold below it can delete a car."""
    other = scene.owner[:, None] != scene.owner[None, :]  # (M, M)
    ious = {"rotated": box_iou_rotated(scene.candidates, scene.candidates),
            "horizontal": box_iou_rotated(obb2hbb(scene.candidates), obb2hbb(scene.candidates))}
    return {kind: float(iou[other].max()) for kind, iou in ious.items()}


def plot_nms(boxes, scores, keep, ax=None, figsize=None, title: str | None = None,
             hbb: bool = False, colorbar: bool = True, norm: Normalize | None = None) -> Figure:
    """Candidates ``boxes`` (N, 5) coloured by their ``scores`` (N,), the NMS winners ``keep`` (K,)
    thick and starred; with ``hbb``, also the winners' horizontal boxes (dashed), which horizontal
    NMS compares. ``norm`` is the score -> colour scale (default: the scores' range): share one
    across panels."""
    boxes = as_box_tensor(boxes)
    scores = torch.as_tensor(scores).detach().cpu().float().reshape(-1)
    keep = torch.as_tensor(keep, dtype=torch.long).reshape(-1)
    fig, ax = figure_and_axes(ax, figsize, (4.6, 4.0))
    norm = norm or Normalize(float(scores.min()), float(scores.max()) if len(scores) else 1.0)
    cmap = plt.get_cmap(SCORE_CMAP)
    colors = [cmap(norm(float(s))) for s in scores]
    plot_rotated_boxes(ax, boxes, color=colors, linewidth=1.0, alpha=0.8)
    plot_rotated_boxes(ax, boxes[keep], color=[colors[int(i)] for i in keep], linewidth=3.0)
    centres = boxes[keep, :2].numpy()
    ax.plot(centres[:, 0], centres[:, 1], "*", color=WINNER_COLOR, markersize=9,
            linestyle="none", gid="winners")
    handles = [Line2D([], [], color=cmap(0.5), linewidth=1.0, label="candidate"),
               Line2D([], [], color=cmap(0.5), linewidth=3.0, marker="*",
                      markerfacecolor=WINNER_COLOR, markeredgecolor=WINNER_COLOR,
                      markersize=9, label="kept (winner)")]
    if hbb:
        plot_rotated_boxes(ax, obb2hbb(boxes[keep]), color=HBB_COLOR, linewidth=1.0,
                           linestyle="--")
        handles.append(Line2D([], [], color=HBB_COLOR, linestyle="--", label="winner's HBB"))
    if len(boxes):  # limits around the boxes (y pointing down)
        corners = obb2poly(obb2hbb(boxes) if hbb else boxes).reshape(-1, 2).numpy()  # (4N, 2)
        low, high = corners.min(axis=0), corners.max(axis=0)
        pad = 0.08 * float((high - low).max()) + 2.0
        ax.set(xlim=(low[0] - pad, high[0] + pad), ylim=(high[1] + pad, low[1] - pad))
    ax.set_aspect("equal")
    label_axes(ax, "x (px)", "y (px)")
    ax.set_title(title or f"{len(boxes)} candidates -> {len(keep)} kept", fontsize=FONT_SIZE)
    ax.legend(handles=handles, fontsize=FONT_SIZE, loc="best")
    if colorbar:
        add_colorbar(fig, plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax, "score", shrink=0.8)
    return fig


def plot_nms_thresholds(boxes, scores, thresholds=(0.1, 0.3, 0.5, 0.7), owner=None,
                        figsize=None) -> Figure:
    """Small multiples: rotated NMS (top row, axes ``[0:n]``) and horizontal NMS (bottom row,
    ``[n:2n]``) per threshold, titled ``"rotated 0.1: K kept"``, plus ``", C objects"`` with
    ``owner`` (N,), the object of each candidate ``boxes`` (N, 5)."""
    boxes = as_box_tensor(boxes)
    scores = torch.as_tensor(scores).detach().cpu().float().reshape(-1)
    check_length(owner, len(boxes), "owner")
    n = len(thresholds)
    fig, axes = panels(2 * n, ncols=n, figsize=figsize or (3.0 * n + 1.0, 6.4))
    fig.set_layout_engine("constrained")
    norm = Normalize(float(scores.min()), float(scores.max()))
    for row, kind in enumerate(("rotated", "horizontal")):
        for col, thr in enumerate(thresholds):
            keep = (nms_rotated if kind == "rotated" else horizontal_nms)(boxes, scores, thr)
            title = f"{kind} {thr:g}: {len(keep)} kept"
            if owner is not None:
                title += f", {cars_kept(keep, torch.as_tensor(owner))} objects"
            ax = axes[row * n + col]
            plot_nms(boxes, scores, keep, ax=ax, title=title, hbb=kind == "horizontal",
                     colorbar=False, norm=norm)
            if col or row:
                ax.get_legend().remove()
    add_colorbar(fig, plt.cm.ScalarMappable(norm=norm, cmap=plt.get_cmap(SCORE_CMAP)), axes,
                 "score", shrink=0.6)
    return fig
