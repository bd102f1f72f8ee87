"""A failure-case gallery: zoomed crops of the objects a detector misses and of its most
confident false positives, each titled with why it failed. The cases and their reasons come from
:func:`paa_edu.evaluation.failures.failure_cases` (the DOTA matching rule, TIDE's error types).
"""
from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paa_edu.evaluation.failures import FailureCase, describe
from paa_edu.viz.boxes import plot_rotated_boxes, show_image, square_window
from paa_edu.viz.style import (
    FONT_SIZE,
    FP_COLOR,
    GT_COLOR,
    MISSED_COLOR,
    TP_COLOR,
    legend_below,
    panels,
)


def _draw_case(ax, image, case: FailureCase, class_names, margin: float) -> None:
    """One crop: the case's box, its partner, the title."""
    show_image(ax, image, case.box[None])
    if case.kind == "missed":
        if case.partner_box is not None:  # the detection that came closest
            plot_rotated_boxes(ax, case.partner_box[None],
                               color=TP_COLOR if case.partner_ok else FP_COLOR, linewidth=1.6)
        plot_rotated_boxes(ax, case.box[None], color=MISSED_COLOR, linewidth=2.0,
                           linestyle="--")
    else:
        if case.partner_box is not None:  # the GT it overlaps most
            plot_rotated_boxes(ax, case.partner_box[None], linewidth=2.0, linestyle="--",
                               color=GT_COLOR if case.partner_ok else MISSED_COLOR)
        plot_rotated_boxes(ax, case.box[None], color=FP_COLOR, linewidth=1.6)
    x0, x1, y0, y1 = square_window(case.box, margin)
    ax.set(xlim=(x0, x1), ylim=(y1, y0))
    ax.set_title(describe(case, class_names), fontsize=FONT_SIZE)


def _legend_handles(cases: list[FailureCase]) -> list[Line2D]:
    """One legend entry per kind of line the crops show (none that they do not)."""
    drawn = set()
    for case in cases:
        missed = case.kind == "missed"
        drawn.add("missed object" if missed else "false positive")
        if case.partner_box is not None:
            drawn.add(("true positive" if case.partner_ok else "false positive") if missed
                      else ("found object" if case.partner_ok else "missed object"))
    styles = {"missed object": (MISSED_COLOR, "--", 2.0), "found object": (GT_COLOR, "--", 2.0),
              "false positive": (FP_COLOR, "-", 1.6), "true positive": (TP_COLOR, "-", 1.6)}
    return [Line2D([], [], color=c, linestyle=ls, linewidth=lw, label=name)
            for name, (c, ls, lw) in styles.items() if name in drawn]


def plot_failure_gallery(cases: list[FailureCase], images, class_names: list[str] | None = None,
                         ncols: int = 4, margin: float = 12.0, panel_size: float = 2.4,
                         figsize=None) -> Figure:
    """Small multiples of failure cases, one zoomed crop each.

    A missed object is dashed purple, with the detection that overlaps it most (blue if that
    one is a true positive of another object, vermillion if not); a false positive is solid
    vermillion, with the GT it overlaps most dashed (sky blue if found, purple if missed).

    Args:
        cases: :class:`paa_edu.evaluation.failures.FailureCase` list (e.g. the ``"missed"``
            and ``"false positive"`` lists of ``failure_cases`` joined).
        images: indexable by ``case.image``: (3, H, W) tensors or (H, W, 3) arrays in the
            pixels of the boxes (or ``None`` entries: the crop then shows the boxes only).
        class_names: names indexed by label (default: the label number).
        ncols: crops per row.
        margin: pixels shown around each box's long side.
        panel_size: inches per crop, used when ``figsize`` is ``None``.
    """
    cases = list(cases)
    fig, axes = panels(len(cases), ncols=ncols, panel_size=panel_size, figsize=figsize)
    for ax, case in zip(axes, cases):
        _draw_case(ax, images[case.image], case, class_names, margin)
    legend_below(fig, _legend_handles(cases))
    return fig
