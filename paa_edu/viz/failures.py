"""A failure-case gallery: zoomed crops of the objects a detector misses and of its most
confident false positives, each titled with why it failed. The cases and their reasons come from
:func:`paa_edu.evaluation.failures.failure_cases` (the DOTA matching rule, TIDE's error types)."""
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

# The lines a crop can show: (colour, linestyle, width); detections solid, objects dashed.
STYLES = {"missed object": (MISSED_COLOR, "--", 2.0), "found object": (GT_COLOR, "--", 2.0),
          "false positive": (FP_COLOR, "-", 1.6), "true positive": (TP_COLOR, "-", 1.6)}


def _kinds(case: FailureCase) -> tuple[str, str | None]:
    """The kinds of line of a crop: its box's, and its partner's (``None`` without one)."""
    missed = case.kind == "missed"
    partner = None if case.partner_box is None else (
        ("true positive" if case.partner_ok else "false positive") if missed
        else ("found object" if case.partner_ok else "missed object"))
    return "missed object" if missed else "false positive", partner


def plot_failure_gallery(cases: list[FailureCase], images, class_names: list[str] | None = None,
                         ncols: int = 4, margin: float = 12.0, panel_size: float = 2.4,
                         figsize=None) -> Figure:
    """Small multiples of failure cases, one zoomed crop each.

    A missed object is dashed purple, with the detection that overlaps it most (blue if that one is
    a true positive of another object, vermillion if not); a false positive is solid vermillion,
    with the GT it overlaps most dashed (sky blue if found, purple if missed). ``cases`` are
    :class:`paa_edu.evaluation.failures.FailureCase` (e.g. the ``"missed"`` and ``"false
    positive"`` lists of ``failure_cases`` joined), ``images`` indexable by ``case.image``
    (``None`` entries: boxes only), ``margin`` the pixels around each box."""
    cases = list(cases)
    fig, axes = panels(len(cases), ncols=ncols, panel_size=panel_size, figsize=figsize)
    for ax, case in zip(axes, cases):
        show_image(ax, images[case.image], case.box[None])
        for box, kind in zip((case.partner_box, case.box), _kinds(case)[::-1]):  # partner 1st
            if kind is not None:
                color, linestyle, linewidth = STYLES[kind]
                plot_rotated_boxes(ax, box[None], color=color, linestyle=linestyle,
                                   linewidth=linewidth)
        x0, x1, y0, y1 = square_window(case.box, margin)
        ax.set(xlim=(x0, x1), ylim=(y1, y0))
        ax.set_title(describe(case, class_names), fontsize=FONT_SIZE)
    drawn = {kind for case in cases for kind in _kinds(case)}  # no legend entry for the rest
    legend_below(fig, [Line2D([], [], color=c, linestyle=ls, linewidth=lw, label=name)
                       for name, (c, ls, lw) in STYLES.items() if name in drawn])
    return fig
