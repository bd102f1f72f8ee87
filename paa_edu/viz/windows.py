"""How the DOTA split cuts a large image: its windows, their overlaps, and the 70 % rule of
:func:`paa_edu.data.split.crop_objects` for an object a window cuts, computed with the split's own
:func:`~paa_edu.data.split.clip_to_window`."""
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon, Rectangle

from paa_edu.data.split import (
    IOF_STATUSES,
    classify_iof,
    clip_to_window,
    patch_name,
    window_origins,
    window_starts,
)
from paa_edu.viz.boxes import as_image
from paa_edu.viz.style import (
    BLACK,
    FONT_SIZE,
    GT_COLOR,
    ORANGE,
    VERMILLION,
    box_color,
    figure_and_axes,
    label_axes,
)

STATUSES = IOF_STATUSES  # object_status codes 0..3


def window_names(stem: str, width: int, height: int, patch_size: int = 1024,
                 overlap: int = 200) -> list[str]:
    """The patch names ``{stem}__{patch_size}__{x}___{y}`` that the split writes for an image of
    ``width x height``, in :func:`window_origins` order."""
    return [patch_name(stem, patch_size, x, y)
            for x, y in window_origins(width, height, patch_size, overlap)]


def overlap_strips(starts: list[int], patch_size: int) -> list[tuple[int, int]]:
    """(begin, end) of the stretch each window shares with the next along one axis (``starts``
    from :func:`paa_edu.data.window_starts`), for each pair of windows that overlap."""
    return [(b, a + patch_size) for a, b in zip(starts, starts[1:]) if b < a + patch_size]


def shade_overlap_strips(ax, width: int, height: int, patch_size: int, overlap: int) -> None:
    """Shade the strips where the split's windows overlap (darker where more do)."""
    for span, side in ((ax.axvspan, width), (ax.axhspan, height)):
        for a, b in overlap_strips(window_starts(side, patch_size, overlap), patch_size):
            span(a, b, color="white", alpha=0.25, linewidth=0)


def window_coverage(points, width: int, height: int, patch_size: int = 1024,
                    overlap: int = 200) -> torch.Tensor:
    """(N,) how many of the split's windows hold each of ``points`` (N, 2) x, y in image
    pixels (e.g. box centres ``boxes[:, :2]``); 2 or more in the overlap strips."""
    points = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2)
    count = torch.zeros(len(points), dtype=torch.long)
    for x, y in window_origins(width, height, patch_size, overlap):
        count += ((points[:, 0] >= x) & (points[:, 0] < x + patch_size)
                  & (points[:, 1] >= y) & (points[:, 1] < y + patch_size)).long()
    return count


def _piece_corners(piece) -> np.ndarray:
    """(V, 2) vertices of a clipped piece (closing vertex not repeated); (0, 2) without area."""
    if piece.is_empty or piece.geom_type != "Polygon" or piece.area <= 0:
        return np.zeros((0, 2))
    return np.asarray(piece.exterior.coords, dtype=np.float64)[:-1]


def object_iof(polys, x: int, y: int, patch_size: int) -> np.ndarray:
    """(M,) IoF = area(object & window) / area(object) of polygons (M, 8) in the window of
    top-left corner (``x``, ``y``), as the split computes it (``clip_to_window``)."""
    polys = np.asarray(polys, dtype=np.float64).reshape(-1, 8)
    return np.array([clip_to_window(p, x, y, patch_size)[1] for p in polys], dtype=np.float64)


def object_status(polys, x: int, y: int, patch_size: int,
                  iof_thr: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """What the split does with each object in one window: ``(iof, status)``, (M,) IoF and (M,)
    codes into :data:`STATUSES` (``classify_iof``: 0 outside, 1 whole, 2 clipped, 3 truncated)."""
    iof = object_iof(polys, x, y, patch_size)
    return iof, np.array([classify_iof(v, iof_thr) for v in iof], dtype=np.int64)


def match_written(written, poly, window: tuple[int, int, int]) -> int:
    """Which of a patch's written objects is the piece of ``poly`` (8,), an object of the large
    image that the ``window`` (x, y, patch_size) cuts: the row of ``written`` (K, 8, the
    patch's label file shifted into image pixels) whose centre is nearest to the centre of
    ``poly``'s part inside the window (the split writes that part's minimum-area rectangle)."""
    written = np.asarray(written, dtype=np.float64).reshape(-1, 8)
    x, y, size = window
    piece = _piece_corners(clip_to_window(poly, x, y, size)[0])  # (V, 2)
    if len(piece) < 3:  # its centre would be NaN, and row 0 silently the answer
        raise ValueError(f"the object lies outside the window {window}")
    centres = written.reshape(-1, 4, 2).mean(1)  # (K, 2)
    return int(np.argmin(np.linalg.norm(centres - piece.mean(0), axis=1)))


def plot_windows(image, patch_size: int = 1024, overlap: int = 200, stem: str = "P0001", ax=None,
                 figsize=None) -> Figure:
    """The split's windows on the image, one colour each, named as the split names them. Strips
    where windows overlap are shaded grey (darker where more windows overlap): an object there is
    cut into two or more patches. ``patch_size`` and ``overlap`` are those of
    :func:`paa_edu.data.split_dataset`, ``stem`` the image's name, the first part of the patch
    names."""
    img = as_image(image)
    height, width = img.shape[:2]
    new_figure = ax is None
    fig, ax = figure_and_axes(ax, figsize, (8.0, 7.6))
    ax.imshow(img)
    shade_overlap_strips(ax, width, height, patch_size, overlap)
    handles = [Patch(facecolor="0.85", edgecolor="0.5", label="overlap strip (shaded)")]
    names = window_names(stem, width, height, patch_size, overlap)
    for k, ((x, y), name) in enumerate(zip(window_origins(width, height, patch_size, overlap),
                                           names)):
        inset = 6 * (k % 3)  # windows sharing an edge stay apart
        ax.add_patch(Rectangle((x + inset, y + inset), patch_size - 2 * inset,
                               patch_size - 2 * inset, fill=False, linewidth=2.2,
                               edgecolor=box_color(k)))
        ax.text(x + inset + 8, y + inset + 8, str(k + 1), fontsize=FONT_SIZE, va="top",
                color="white", bbox=dict(facecolor=box_color(k), pad=1.5, linewidth=0))
        handles.append(Patch(edgecolor=box_color(k), facecolor="none", linewidth=2.2,
                             label=f"{k + 1}: {name}"))
    ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5))
    label_axes(ax, "x (px)", "y (px)")
    ax.set_title(f"{len(names)} windows of {patch_size} px, overlap {overlap} px",
                 fontsize=FONT_SIZE + 1)
    ax.legend(handles=handles, fontsize=FONT_SIZE, loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.08))
    if new_figure:
        fig.tight_layout()
    return fig


def plot_object_in_window(image, poly, window: tuple[int, int, int], iof_thr: float = 0.7,
                          written=None, difficult: int | None = None, margin: float = 40.0,
                          ax=None, figsize=None) -> Figure:
    """One object and a window border that cuts it: the part inside, its IoF, the verdict. ``poly``
    (8,) is the object's polygon in image pixels, ``window`` (x, y, patch_size), ``iof_thr`` the
    split's threshold. Optional: ``written`` (K, 8), the polygons the split wrote for this patch
    shifted back into image pixels (drawn in orange: the re-fitted piece), and ``difficult``, the
    difficulty it wrote for the object (in the title)."""
    pts = np.asarray(poly, dtype=np.float64).reshape(4, 2)
    x, y, size = window
    iof, status = (v[0] for v in object_status(pts.reshape(1, 8), x, y, size, iof_thr))
    new_figure = ax is None
    fig, ax = figure_and_axes(ax, figsize, (4.8, 4.8))
    ax.imshow(as_image(image), interpolation="nearest")  # a zoom: the pixels as they are
    ax.add_patch(Rectangle((x, y), size, size, fill=False, edgecolor=BLACK, linewidth=2.5,
                           label=f"window ({x}, {y})"))
    piece = _piece_corners(clip_to_window(pts.reshape(8), x, y, size)[0])  # (V, 2)
    if len(piece) >= 3:
        ax.add_patch(Polygon(piece, closed=True, facecolor=GT_COLOR, alpha=0.45,
                             edgecolor="none", label="part inside"))
    ax.add_patch(Polygon(pts, closed=True, fill=False, edgecolor=GT_COLOR, linewidth=2,
                         linestyle="--", label="object"))
    for k, w in enumerate(np.asarray(written if written is not None else [], float)
                          .reshape(-1, 8)):
        ax.add_patch(Polygon(w.reshape(4, 2), closed=True, fill=False, edgecolor=ORANGE,
                             linewidth=2, label="written piece" if k == 0 else None))
    lo, hi = pts.min(0) - margin, pts.max(0) + margin
    side = float((hi - lo).max()) / 2
    cx, cy = (lo + hi) / 2
    ax.set(xlim=(cx - side, cx + side), ylim=(cy + side, cy - side))
    verdict = {1: "whole", 2: f">= {iof_thr}: clipped", 3: f"< {iof_thr}: truncated"}.get(
        int(status), "outside")
    flag = f", difficult={difficult}" if difficult is not None else ""
    ax.set_title(f"IoF {iof:.2f} {verdict}{flag}", fontsize=FONT_SIZE + 1,
                 color=VERMILLION if status == 3 else BLACK)
    ax.tick_params(labelsize=FONT_SIZE)
    ax.legend(fontsize=FONT_SIZE, loc="lower right", framealpha=0.85)
    if new_figure:
        fig.tight_layout()
    return fig
