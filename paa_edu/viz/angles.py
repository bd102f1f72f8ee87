"""What an angle convention does to one rectangle: its label ``(w, h, θ)`` drawn, and swept.

Turned from 0 to 180°, a box's label jumps where a 1° turn crosses the end of the version's
range: the *boundary discontinuity* a regression head has to live with. Every label comes from
:func:`paa_edu.geometry.regularize_boxes` (or :func:`~paa_edu.geometry.poly2obb` for a polygon)
and every corner from :func:`~paa_edu.geometry.obb2poly`; nothing here re-derives an angle."""
import math

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc
from torch import Tensor

from paa_edu.geometry.angles import ANGLE_VERSIONS, check_version, regularize_boxes
from paa_edu.geometry.convert import obb2poly, poly2obb
from paa_edu.viz.boxes import plot_rotated_boxes
from paa_edu.viz.style import BLUE, FONT_SIZE, ORANGE, VERMILLION, label_axes, panels

W_EDGE_COLOR, ARC_COLOR, CORNER_COLOR = VERMILLION, BLUE, "black"


def label_box(box_or_poly, version: str) -> Tensor:
    """The label (5,) cx, cy, w, h, theta in ``version`` of one rectangle: a box (5,) / (1, 5),
    or a polygon (8,) / (1, 8) x1, y1, ..., x4, y4 (fitted with ``poly2obb``)."""
    check_version(version)
    values = torch.as_tensor(box_or_poly).detach().cpu().float()
    if values.numel() == 5 and values.dim() <= 2:
        return regularize_boxes(values.reshape(1, 5), version)[0]
    if values.numel() == 8 and values.dim() <= 2:
        return poly2obb(values.reshape(1, 8), version=version)[0]
    raise ValueError("box_or_poly must be one box (5,) cx, cy, w, h, theta or one polygon "
                     f"(8,) x1, y1, ..., x4, y4; got shape {tuple(values.shape)}")


def draw_label(ax: Axes, box: Tensor, title: str = "") -> None:
    """Draw one labelled box (5,), already in the version to show: outline, thick ``w`` edge,
    θ arc from the x axis, first corner. The artists carry gids (``"w-edge"``, ``"x-axis"``,
    ``"theta-arc"``, ``"first-corner"``) so that tests and callers can find them."""
    cx, cy, w, h, theta = (float(v) for v in box)
    corners = obb2poly(box.reshape(1, 5))[0].reshape(4, 2).numpy()  # (4, 2) c-u-v, c+u-v, ...
    plot_rotated_boxes(ax, box.reshape(1, 5), color="0.3", linewidth=1.2)
    first, second = corners[0], corners[1]  # the w edge joins the first two corners
    ax.plot([first[0], second[0]], [first[1], second[1]], color=W_EDGE_COLOR, linewidth=4,
            solid_capstyle="butt", label="w edge", gid="w-edge")
    radius = min(0.4 * max(w, h), 0.8 * w)
    ax.plot([first[0], first[0] + 1.5 * radius], [first[1], first[1]], "--", color="0.4",
            linewidth=1, label="x axis (θ = 0)", gid="x-axis")
    degrees = math.degrees(theta)  # counter-clockwise in data coordinates = clockwise on screen
    ax.add_patch(Arc(tuple(first), 2 * radius, 2 * radius, theta1=min(0.0, degrees),
                     theta2=max(0.0, degrees), color=ARC_COLOR, linewidth=2, gid="theta-arc"))
    ax.plot([], [], color=ARC_COLOR, linewidth=2, label="θ (clockwise on screen)")  # legend
    if abs(theta) < math.radians(30):  # a narrow arc: the number goes past the x-axis ray
        where, align = (1.6 * radius, radius * math.sin(theta) / 2), "left"
    else:
        where, align = (1.3 * radius * math.cos(theta / 2),
                        1.3 * radius * math.sin(theta / 2)), "center"
    ax.text(first[0] + where[0], first[1] + where[1], f"{math.degrees(theta):.0f}°",
            color=ARC_COLOR, fontsize=FONT_SIZE, ha=align, va="center")
    ax.plot(*first, "o", color=CORNER_COLOR, markersize=7, label="first corner",
            gid="first-corner")
    half = float(np.abs(corners - [cx, cy]).max()) + 0.3 * max(w, h)
    ax.set(xlim=(cx - half, cx + half), ylim=(cy + half, cy - half), aspect="equal")
    ax.set_title(f"{title}\nw={w:.0f} h={h:.0f} θ={math.degrees(theta):.0f}°",
                 fontsize=FONT_SIZE + 1)
    label_axes(ax, "x (px)")


def plot_angle_conventions(box_or_poly, versions=ANGLE_VERSIONS, figsize=None) -> Figure:
    """The same rectangle (a box (5,) or a polygon (8,)) labelled in each angle version: panel
    ``i`` shows ``versions[i]``, a legend below the panels."""
    fig, axes = panels(len(versions), ncols=len(versions), panel_size=3.3,
                       figsize=figsize or (3.3 * len(versions), 4.0))
    fig.set_layout_engine("constrained")
    for ax, version in zip(axes, versions):
        draw_label(ax, label_box(box_or_poly, version), title=version)
    axes[0].set_ylabel("y (px, pointing down)", fontsize=FONT_SIZE)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize=FONT_SIZE,
               frameon=False)
    return fig


def angle_sweep(w: float = 80.0, h: float = 30.0, versions=ANGLE_VERSIONS,
                step_deg: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
    """One ``w`` x ``h`` box (its ``w`` side along x at turn 0) turned from 0 to 180° by
    ``step_deg``: ``(turns, labels)``, turns (T,) in degrees and per version (T, 5) labels."""
    turns = torch.arange(0.0, 180.0, float(step_deg))  # (T,) degrees
    boxes = torch.zeros(len(turns), 5)
    boxes[:, 2], boxes[:, 3], boxes[:, 4] = float(w), float(h), torch.deg2rad(turns)
    return turns, {check_version(v): regularize_boxes(boxes, v) for v in versions}


def sweep_jumps(turns: Tensor, labels: Tensor, max_step_deg: float = 10.0) -> dict[str, list]:
    """Where a swept label (from :func:`angle_sweep`) jumps: ``{"theta": [(before, after), ...],
    "swap": [...]}``, the pairs of turns (degrees) between which θ changes by more than
    ``max_step_deg``, or w and h trade places."""
    d_theta = torch.rad2deg(labels[1:, 4] - labels[:-1, 4]).abs()  # (T-1,)
    swapped = (labels[1:, 2] - labels[:-1, 2]).abs() > 1e-3  # (T-1,)

    def pairs(mask: Tensor) -> list:
        return [(round(float(turns[i]), 3), round(float(turns[i + 1]), 3))
                for i in torch.nonzero(mask).flatten().tolist()]
    return {"theta": pairs(d_theta > max_step_deg), "swap": pairs(swapped)}


def plot_angle_sweep(w: float = 80.0, h: float = 30.0, versions=ANGLE_VERSIONS,
                     step_deg: float = 1.0, figsize=None) -> Figure:
    """θ (top row, axes ``[0:n]``) and w, h (bottom row, ``[n:2n]``) of one turning box, one
    column per version; dotted vertical lines mark the jumps of :func:`sweep_jumps`."""
    turns, labels = angle_sweep(w, h, versions, step_deg)
    n = len(labels)
    fig, axes = panels(2 * n, ncols=n, figsize=figsize or (3.4 * n, 5.2))
    fig.set_layout_engine("constrained")
    for i, (version, lab) in enumerate(labels.items()):
        top, bottom = axes[i], axes[n + i]
        top.plot(turns, torch.rad2deg(lab[:, 4]), ".", markersize=3, color=BLUE,
                 label="label θ")
        bottom.plot(turns, lab[:, 2], color=VERMILLION, linewidth=2, label="label w")
        bottom.plot(turns, lab[:, 3], color=ORANGE, linewidth=2, linestyle="--",
                    label="label h")
        jumps = sweep_jumps(turns, lab)
        for ax in (top, bottom):
            for before, after in sorted(set(jumps["theta"] + jumps["swap"])):
                ax.axvline((before + after) / 2, color="0.5", linestyle=":", linewidth=1.2)
            ax.set_xticks([0, 45, 90, 135, 180])
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=FONT_SIZE)
        top.set_title(version, fontsize=FONT_SIZE + 1)
        top.set(ylim=(-100, 190), yticks=[-90, -45, 0, 45, 90, 135, 180])
        bottom.set(ylim=(0, 1.15 * max(w, h)))
        bottom.set_xlabel("true rotation (degrees)", fontsize=FONT_SIZE)
    label_axes(axes[0], ylabel="label θ (degrees)")
    label_axes(axes[n], ylabel="label size (px)")
    axes[0].legend(fontsize=FONT_SIZE, loc="upper left")
    axes[n].legend(fontsize=FONT_SIZE, loc="lower left")
    return fig
