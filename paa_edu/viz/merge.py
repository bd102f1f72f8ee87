"""The DOTA merge made visible: the duplicates that patches overlapping on a seam detect,
before and after the merge's NMS, and the merged detections of the whole image."""
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paa_edu.data.merge import parse_patch_name, patch_to_image
from paa_edu.viz.boxes import as_image, plot_rotated_boxes
from paa_edu.viz.style import (
    FONT_SIZE,
    PALETTE,
    VERMILLION,
    YELLOW,
    as_box_tensor,
    box_color,
    figure_and_axes,
    panels,
    text_color_on,
)
from paa_edu.viz.windows import shade_overlap_strips

CLASS_COLORS = [c for c in PALETTE if c != YELLOW]  # 7 distinct colours, one per DOTA-like class


def class_color(c: int) -> str:
    """The colour of class ``c``: the palette without yellow (the cars often are), one colour per
    class of the synthetic data, cycling (no ground truth is drawn, so sky blue is free)."""
    return CLASS_COLORS[int(c) % len(CLASS_COLORS)]


def shift_patch_detections(patch_detections: dict
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Every patch's boxes moved into the image (no NMS), and the patch each came from.
    ``patch_detections`` is ``{patch name: dict(boxes, scores, labels)}`` of one image (rate 1);
    returns ``(boxes (P, 5), scores (P,), patch (P,), names)``, ``patch`` indexing ``names``, in
    the split's order (rows, then columns)."""
    names = sorted(patch_detections, key=lambda n: parse_patch_name(n)[2:0:-1])  # (y, x)
    boxes, scores, patch = [], [], []
    for k, name in enumerate(names):
        _, x, y, rate = parse_patch_name(name)
        if rate != 1.0:  # the boxes would be shifted but not scaled: silently misplaced
            raise ValueError(f"{name}: only patches cut at full resolution (rate 1)")
        det = patch_detections[name]
        b = patch_to_image(as_box_tensor(det["boxes"]), x, y)  # (N, 5) in the image
        boxes.append(b), scores.append(torch.as_tensor(det["scores"]).float().cpu())
        patch.append(torch.full((len(b),), k, dtype=torch.long))
    return torch.cat(boxes), torch.cat(scores), torch.cat(patch), names


def plot_merge_seam(image, patch_detections: dict, merged: dict,
                    region: tuple[float, float, float, float], score_thr: float = 0.4,
                    patch_size: int = 1024, overlap: int = 200, figsize=None) -> Figure:
    """A seam before and after the merge: duplicates from several patches, then one box each.
    ``patch_detections`` are those of :func:`shift_patch_detections`, ``merged`` the image's merged
    detections (``merge_patch_detections(...)[stem]``), ``region`` (x0, x1, y0, y1) the zoom in
    image pixels; ``patch_size`` and ``overlap`` (of the split) shade the overlap strips. The
    titles count the boxes drawn in the region."""
    img = as_image(image)
    boxes, scores, patch, names = shift_patch_detections(patch_detections)
    after = as_box_tensor(merged["boxes"], "merged['boxes']")
    after_scores = torch.as_tensor(merged["scores"]).float().cpu()
    x0, x1, y0, y1 = region
    fig, axes = panels(2, ncols=2, figsize=figsize or (10.0, 6.2))
    shown = []
    for ax, b, s in ((axes[0], boxes, scores), (axes[1], after, after_scores)):
        ax.imshow(img, interpolation="nearest")  # a zoom: the pixels as they are
        shade_overlap_strips(ax, img.shape[1], img.shape[0], patch_size, overlap)
        keep = (s >= score_thr) & (b[:, 0] >= x0) & (b[:, 0] <= x1) & (b[:, 1] >= y0) \
            & (b[:, 1] <= y1)  # (N,) drawn: above the threshold, centre in the region
        shown.append(keep)
        ax.set(xlim=(x0, x1), ylim=(y1, y0))
        ax.tick_params(labelsize=FONT_SIZE)
    sources = sorted(set(patch[shown[0]].tolist()))
    for k in sources:
        plot_rotated_boxes(axes[0], boxes[shown[0] & (patch == k)], color=box_color(k),
                           linewidth=1.6)
    plot_rotated_boxes(axes[1], after[shown[1]], color=VERMILLION, linewidth=1.6)
    axes[0].legend(handles=[Line2D([], [], color=box_color(k), lw=2, label=names[k])
                            for k in sources], fontsize=FONT_SIZE, loc="upper center",
                   bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    axes[0].set_title(f"before NMS: {int(shown[0].sum())} boxes (score >= {score_thr})",
                      fontsize=FONT_SIZE + 1)
    axes[1].set_title(f"after the merge's NMS: {int(shown[1].sum())} boxes",
                      fontsize=FONT_SIZE + 1)
    fig.tight_layout()
    return fig


def plot_merged_detections(image, dets: dict, class_names: list[str] | None = None,
                           score_thr: float = 0.4, max_labels: int = 12, ax=None,
                           figsize=None) -> Figure:
    """Merged detections ``dets`` (``boxes``, ``scores``, ``labels``) on the whole image,
    coloured by class; only the ``max_labels`` best-scoring boxes get a score label."""
    boxes = as_box_tensor(dets["boxes"], "dets['boxes']")
    scores, labels = (torch.as_tensor(dets[k]).cpu() for k in ("scores", "labels"))
    keep = scores >= score_thr
    boxes, scores, labels = boxes[keep], scores[keep].float(), labels[keep].long()
    new_figure = ax is None
    fig, ax = figure_and_axes(ax, figsize, (10.0, 7.0))
    ax.imshow(as_image(image))
    name = (lambda c: class_names[c]) if class_names else str
    present = sorted(set(labels.tolist()))
    for c in present:
        plot_rotated_boxes(ax, boxes[labels == c], color=class_color(c), linewidth=1.4)
    best = torch.argsort(scores, descending=True, stable=True)[:max_labels]
    for i in best.tolist():
        ax.text(float(boxes[i, 0]), float(boxes[i, 1] - boxes[i, 2:4].max() / 2 - 4),
                f"{float(scores[i]):.2f}", fontsize=FONT_SIZE, ha="center", va="bottom",
                color=text_color_on(class_color(int(labels[i]))), clip_on=True,
                bbox=dict(facecolor=class_color(int(labels[i])), pad=1, linewidth=0))
    ax.legend(handles=[Line2D([], [], color=class_color(c), lw=2, label=name(c))
                       for c in present], fontsize=FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"{len(boxes)} merged detections (score >= {score_thr}); the "
                 f"{len(best)} best labelled", fontsize=FONT_SIZE + 1)
    ax.tick_params(labelsize=FONT_SIZE)
    if new_figure:
        fig.tight_layout()
    return fig
