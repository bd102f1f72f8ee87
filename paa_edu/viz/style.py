"""What every plot in :mod:`paa_edu.viz` shares: resolution, font sizes, colours, input checks.

- Resolution and text: figures at ``DPI`` 100 with text of at least ``FONT_SIZE`` 9 pt, so that
  they read in a notebook and on GitHub.
- Colours: the Okabe-Ito palette (``PALETTE``), which stays distinct under the common forms of
  colour blindness; ground truth is never yellow (the synthetic cars often are).
- Layout: :func:`figure_and_axes` gives a single-panel function its ``ax=`` / ``figsize=``
  behaviour; :func:`panels` gives a multi-panel one its grid.
- Inputs: :func:`check_boxes` refuses what is not (N, 5), :func:`check_length` names a
  per-box list of the wrong length.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from torch import Tensor

DPI = 100
FONT_SIZE = 9  # the smallest text any figure uses (titles, labels, ticks, legends)

# Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green, yellow,
# blue, vermillion, reddish purple.
BLACK, ORANGE, SKY_BLUE, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, YELLOW, BLACK]

POS_COLOR, NEG_COLOR, IGNORED_COLOR = GREEN, "0.45", "0.6"
GT_COLOR = SKY_BLUE  # dashed ground truth; missed GT in PURPLE
TP_COLOR, FP_COLOR, MISSED_COLOR = BLUE, VERMILLION, PURPLE
HIST_COLOR = SKY_BLUE  # the light bars behind score / IoU strips
# Boxes drawn over an image, one colour per object or class: no yellow (the cars often are) and
# no GT_COLOR (the ground truth's own), so 6 colours that cycle.
BOX_PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, BLACK]


def palette_color(i: int) -> str:
    """The ``i``-th colour of :data:`PALETTE` (cycling every 8).

    Args:
        i: any integer.
    Returns:
        a hex colour string.
    """
    return PALETTE[int(i) % len(PALETTE)]


def box_color(i: int) -> str:
    """The ``i``-th colour of :data:`BOX_PALETTE` (cycling every 6): boxes over an image.

    Args:
        i: any integer (a GT index, a class label).
    Returns:
        a hex colour string.
    """
    return BOX_PALETTE[int(i) % len(BOX_PALETTE)]


def text_color_on(color) -> str:
    """``"black"`` or ``"white"``, whichever reads better on a background of ``color``.

    Args:
        color: any matplotlib colour.
    Returns:
        ``"black"`` on light colours (relative luminance > 0.45), else ``"white"``.
    """
    r, g, b = to_rgb(color)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float] | None,
                    default_figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The Axes a single-panel plot draws on, and its Figure.

    Args:
        ax: an Axes of the caller's own layout, or ``None`` for a new figure.
        figsize: (width, height) in inches of the new figure; with ``ax`` it must be ``None``.
        default_figsize: the size used when neither is given.
    Returns:
        ``(figure, axes)``; the figure is ``ax.figure`` when ``ax`` is given.
    """
    if ax is not None:
        if figsize is not None:
            raise ValueError("pass either ax= (draw into your figure) or figsize= (a new "
                             "figure), not both")
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        return ax.figure, ax
    fig, new_ax = plt.subplots(figsize=_checked_figsize(figsize or default_figsize), dpi=DPI)
    return fig, new_ax


def panels(n_panels: int, ncols: int = 1, panel_size: float = 3.2,
           figsize: tuple[float, float] | None = None,
           sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A new figure with ``n_panels`` panels on ``ncols`` columns (unused cells hidden).

    Args:
        n_panels: how many panels are drawn.
        ncols: columns of the grid; rows follow.
        panel_size: inches per (square) panel, used when ``figsize`` is ``None``.
        figsize: (width, height) in inches of the whole figure.
        sharey: the panels share their y axis.
    Returns:
        ``(figure, [axes] * n_panels)`` in row-major order.
    """
    if n_panels < 1 or ncols < 1:
        raise ValueError(f"need n_panels >= 1 and ncols >= 1, got {n_panels} and {ncols}")
    ncols = min(ncols, n_panels)
    nrows = math.ceil(n_panels / ncols)
    size = figsize or (panel_size * ncols, panel_size * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=_checked_figsize(size), dpi=DPI,
                             squeeze=False, sharey=sharey)
    for ax in axes.flat[n_panels:]:
        ax.axis("off")
    return fig, list(axes.flat[:n_panels])


def legend_below(fig: Figure, handles: list) -> None:
    """One legend for the whole figure, under its panels, then ``tight_layout`` around it.

    Args:
        fig: a figure of this package (its panels drawn).
        handles: labelled artists (``Line2D([], [], color=..., label=...)``).
    Returns:
        None.
    """
    width, height = fig.get_size_inches()
    ncol = int(min(len(handles), max(1, width // 1.6)))  # ~1.6 inch per 9 pt entry
    fig.legend(handles=handles, fontsize=FONT_SIZE, loc="lower center", ncol=ncol,
               frameon=False)
    rows = -(-len(handles) // ncol)
    fig.tight_layout(rect=(0, (0.1 + 0.2 * rows) / height, 1, 1))


def _checked_figsize(figsize) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be (width, height) in inches, got {figsize!r}") from None
    if not (width > 0 and height > 0):
        raise ValueError(f"figsize must be positive, got {figsize!r}")
    return width, height


def check_boxes(boxes, name: str = "boxes") -> Tensor:
    """``boxes`` as a float CPU tensor (N, 5) cx, cy, w, h, theta; anything else is refused.

    A (2, 10) tensor is two rows of ten numbers, not four boxes: it is an error, as is (3, 4).
    An empty tensor of any shape with no elements is (0, 5).

    Args:
        boxes: a tensor, array or nested list of shape (N, 5).
        name: what the error message calls it.
    Returns:
        (N, 5) float32 CPU tensor (detached).
    Raises:
        TypeError: ``boxes`` is not numbers (a string, ``None``, a dict, ...).
        ValueError: the shape is not (N, 5).
    """
    try:
        boxes = torch.as_tensor(boxes).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a tensor, array or nested list of shape (N, 5) cx, "
                        f"cy, w, h, theta; got {type(boxes).__name__} {boxes!r:.60}") from None
    if boxes.dtype == torch.bool or boxes.is_complex():
        raise TypeError(f"{name} must hold numbers, got dtype {boxes.dtype}")
    if boxes.numel() == 0:
        return boxes.reshape(0, 5).float()
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{name} must be (N, 5) cx, cy, w, h, theta; got shape "
                         f"{tuple(boxes.shape)}")
    return boxes.float()


def check_length(values, n: int, name: str, of: str = "boxes") -> None:
    """Refuse a per-item list (labels, colours, scores) whose length is not ``n``.

    Args:
        values: the list, or ``None`` (always accepted).
        n: the number of items it must have.
        name, of: the error message says "``name`` has k entries for ``n`` ``of``".
    Returns:
        None.
    Raises:
        ValueError: ``len(values) != n``.
    """
    if values is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} {of}")
