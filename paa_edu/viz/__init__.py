"""Plots that show what the assigners and the detector do (matplotlib; each returns the Figure).

One module per family, every public name importable from ``paa_edu.viz``:

- :mod:`~paa_edu.viz.boxes`: :func:`plot_rotated_boxes` (the one routine that draws rotated
  boxes; every plot uses it) and :func:`plot_detections`.
- :mod:`~paa_edu.viz.assignments`: :func:`plot_assignments`, the positives of several
  assigners on the same image.
- :mod:`~paa_edu.viz.gmm`: :func:`plot_gmm_split` / :func:`plot_score_distributions`, PAA's
  split of one / several GTs from a :class:`paa_edu.assigners.PAARecord`.
- :mod:`~paa_edu.viz.curves`: loss curves, precision-recall curves, IoU-branch calibration.

Figures are small (``dpi`` 80) so that notebooks stay small.
"""
from paa_edu.viz.assignments import plot_assignments
from paa_edu.viz.boxes import plot_detections, plot_rotated_boxes
from paa_edu.viz.curves import plot_iou_calibration, plot_loss_curves, plot_pr_curves
from paa_edu.viz.gmm import plot_gmm_split, plot_score_distributions

__all__ = ["plot_rotated_boxes", "plot_detections", "plot_assignments", "plot_gmm_split",
           "plot_score_distributions", "plot_loss_curves", "plot_pr_curves",
           "plot_iou_calibration"]
