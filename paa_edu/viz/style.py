"""What every plot in :mod:`paa_edu.viz` shares: resolution, font sizes, colours, layout, inputs.

- Figures at ``DPI`` 100 with text of at least ``FONT_SIZE`` 9 pt, so that they read in a
  notebook and on GitHub.
- Colours: the Okabe-Ito palette (``PALETTE``), which stays distinct under the common forms of
  colour blindness; ground truth is never yellow (the synthetic cars often are).
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from torch import Tensor

DPI = 100
FONT_SIZE = 9  # the smallest text any figure uses (titles, labels, ticks, legends)

# Okabe & Ito (2008), "Color Universal Design".
BLACK, ORANGE, SKY_BLUE, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, YELLOW, BLACK]

POS_COLOR, NEG_COLOR, IGNORED_COLOR = GREEN, "0.45", "0.6"
GT_COLOR = SKY_BLUE  # dashed ground truth; missed GT in PURPLE
TP_COLOR, FP_COLOR, MISSED_COLOR = BLUE, VERMILLION, PURPLE
HIST_COLOR = SKY_BLUE  # the light bars behind score / IoU strips
# Boxes over an image, one colour per object or class: no yellow (cars), no GT_COLOR; 6 that cycle.
BOX_PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, BLACK]


def palette_color(i: int) -> str:
    """The ``i``-th colour of :data:`PALETTE` (cycling every 8)."""
    return PALETTE[int(i) % len(PALETTE)]


def box_color(i: int) -> str:
    """The ``i``-th colour of :data:`BOX_PALETTE` (cycling every 6): boxes over an image."""
    return BOX_PALETTE[int(i) % len(BOX_PALETTE)]


def text_color_on(color) -> str:
    """``"black"`` on a light ``color`` (relative luminance > 0.45), else ``"white"``."""
    r, g, b = to_rgb(color)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float] | None,
                    default_figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, axes)`` of a single-panel plot: ``ax`` and its figure, or a new figure of
    ``figsize`` (default ``default_figsize``) when ``ax`` is ``None``."""
    if ax is None:
        return plt.subplots(figsize=figsize or default_figsize, dpi=DPI)
    if figsize is not None:
        raise ValueError("pass either ax= (draw into your figure) or figsize= (a new "
                         "figure), not both")
    if not isinstance(ax, Axes):  # e.g. plot_rotated_boxes(boxes): the Axes comes first
        raise TypeError(f"ax must be a matplotlib Axes (or None for a new figure), got "
                        f"{type(ax).__name__}")
    return ax.figure, ax


def panels(n_panels: int, ncols: int = 1, panel_size: float = 3.2, figsize=None,
           sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A new figure with ``n_panels`` panels in row-major order on ``ncols`` columns (unused
    cells hidden), ``panel_size`` inches per square panel unless ``figsize`` is given."""
    if n_panels < 1:  # an empty dict or list of things to draw
        raise ValueError("nothing to draw: the plot has 0 panels")
    ncols = min(ncols, n_panels)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, dpi=DPI, squeeze=False, sharey=sharey,
                             figsize=figsize or (panel_size * ncols, panel_size * nrows))
    for ax in axes.flat[n_panels:]:
        ax.axis("off")
    return fig, list(axes.flat[:n_panels])


def legend_below(fig: Figure, handles: list) -> None:
    """One legend for the whole figure, under its panels, then ``tight_layout`` around it."""
    width, height = fig.get_size_inches()
    ncol = int(min(len(handles), max(1, width // 1.6)))  # ~1.6 inch per 9 pt entry
    fig.legend(handles=handles, fontsize=FONT_SIZE, loc="lower center", ncol=ncol,
               frameon=False)
    rows = -(-len(handles) // ncol)
    fig.tight_layout(rect=(0, (0.1 + 0.2 * rows) / height, 1, 1))


def label_axes(ax: Axes, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Axis labels and tick labels at :data:`FONT_SIZE`."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.tick_params(labelsize=FONT_SIZE)


def grouped_bars(ax: Axes, values: dict, n_groups: int) -> None:
    """Bars of several series side by side in each of ``n_groups`` groups: ``values`` is
    ``{series label: (n_groups,) heights}``, one :func:`palette_color` per series."""
    step = 0.8 / len(values)
    for i, (label, heights) in enumerate(values.items()):
        ax.bar(np.arange(n_groups) + (i - (len(values) - 1) / 2) * step, heights, step,
               label=label, color=palette_color(i))


def add_colorbar(fig: Figure, mappable, ax, label: str, shrink: float) -> None:
    """A colour bar beside ``ax`` (an Axes or a list of them), labelled at :data:`FONT_SIZE`."""
    bar = fig.colorbar(mappable, ax=ax, shrink=shrink)
    bar.set_label(label, fontsize=FONT_SIZE)
    bar.ax.tick_params(labelsize=FONT_SIZE)


def as_box_tensor(boxes, name: str = "boxes") -> Tensor:
    """``boxes`` as an (N, 5) float32 CPU tensor cx, cy, w, h, theta. A (2, 10) tensor is two
    rows of ten numbers, not four boxes: drawn, it would silently show wrong boxes, so it is an
    error, as is (3, 4). An empty tensor of any shape is (0, 5)."""
    try:
        boxes = torch.as_tensor(boxes).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a tensor, array or nested list of shape (N, 5) cx, "
                        f"cy, w, h, theta; got {type(boxes).__name__} {boxes!r:.60}") from None
    if boxes.numel() == 0:
        return boxes.reshape(0, 5).float()
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{name} must be (N, 5) cx, cy, w, h, theta; got shape "
                         f"{tuple(boxes.shape)}")
    return boxes.float()


def check_length(values, n: int, name: str, of: str = "boxes") -> None:
    """Refuse a per-item list (labels, colours, strides) whose length is not ``n``: ``zip``
    would silently drop the extra items, or index past the end."""
    if values is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} {of}")
