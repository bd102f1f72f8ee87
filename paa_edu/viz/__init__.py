"""Plots that show what the assigners and the detector do (matplotlib; each returns the Figure).

One module per family, every public name importable from ``paa_edu.viz``:

- :mod:`~paa_edu.viz.boxes`: :func:`plot_rotated_boxes` (the one routine that draws rotated
  boxes; every plot uses it), :func:`plot_detections` and :func:`plot_detections_vs_gt`
  (true / false positives and missed GT).
- :mod:`~paa_edu.viz.anchors`: :func:`plot_anchor_neighbourhood`, the anchors nearest one
  object on each level; :func:`plot_iou_heatmap`, its IoU with every anchor of the grid.
- :mod:`~paa_edu.viz.assignments`: :func:`plot_assignments`, the positives of several
  assigners on the same image; :func:`plot_assignment_zoom`, chosen objects x assigners, zoomed,
  with the ignored anchors; :func:`draw_atss_threshold`, ATSS's ``mean + std`` rule for one GT.
- :mod:`~paa_edu.viz.gmm`: :func:`plot_gmm_split` / :func:`plot_score_distributions`, PAA's
  split of one / several GTs from a :class:`paa_edu.assigners.PAARecord`.
- :mod:`~paa_edu.viz.curves`: loss curves (with the warm-up and lr), precision-recall curves
  of one run or several overlaid, IoU-branch calibration, the IoU loss against its entropy
  floor (:func:`plot_iou_loss_floor`), AP by assigner, class and object size
  (:func:`plot_ap_breakdown`).
- :mod:`~paa_edu.viz.angles` / :mod:`~paa_edu.viz.nms`: one rectangle in each angle
  convention (:func:`plot_angle_conventions`, :func:`plot_angle_sweep`); NMS winners coloured by
  score, rotated vs horizontal (:func:`plot_nms`, :func:`plot_nms_thresholds`).
- :mod:`~paa_edu.viz.candidates`: :func:`plot_candidate_scores`, one object's PAA candidates
  on the image and in the score histogram, in the same colours and numbers;
  :func:`plot_pool_sizes`, candidates per object for each initial assigner.
- :mod:`~paa_edu.viz.windows`: the DOTA split's windows (:func:`plot_windows`) and an object
  cut by a window border, with its IoF and difficulty (:func:`plot_object_in_window`).
- :mod:`~paa_edu.viz.merge`: the merge on a seam, before and after NMS
  (:func:`plot_merge_seam`), and merged detections with capped labels
  (:func:`plot_merged_detections`).
- :mod:`~paa_edu.viz.failures`: :func:`plot_failure_gallery`, zoomed crops of the missed
  objects and the most confident false positives, each titled with why it failed.
- :mod:`~paa_edu.viz.history`: the assignment of the same GTs over training, from
  :mod:`paa_edu.engine.snapshots` (:func:`plot_split_over_training`,
  :func:`plot_positives_over_training`, :func:`plot_cut_over_training`).

Conventions, the same for every function (shared in :mod:`~paa_edu.viz.style`):

- a single-panel plot takes ``ax=`` (draw into your own layout) or ``figsize=`` (a new figure);
  a multi-panel one takes ``figsize=``; each returns the Figure, so in a notebook end the line
  with ``;`` or it may be shown twice;
- boxes are (N, 5) ``cx, cy, w, h, theta`` in image pixels, y pointing down; anything else
  (a (2, 10) tensor, labels of another length) is refused with a one-line error;
- 100 dpi, text of at least 9 pt, the colour-blind-safe Okabe-Ito palette, ground truth never
  yellow.
"""
from paa_edu.viz.anchors import level_iou_maps, plot_anchor_neighbourhood, plot_iou_heatmap
from paa_edu.viz.angles import plot_angle_conventions, plot_angle_sweep
from paa_edu.viz.assignments import draw_atss_threshold, plot_assignment_zoom, plot_assignments
from paa_edu.viz.boxes import plot_detections, plot_detections_vs_gt, plot_rotated_boxes
from paa_edu.viz.candidates import plot_candidate_scores, plot_pool_sizes
from paa_edu.viz.curves import (
                                plot_ap_breakdown,
                                plot_iou_calibration,
                                plot_iou_loss_floor,
                                plot_loss_curves,
                                plot_pr_curves,
)
from paa_edu.viz.failures import plot_failure_gallery
from paa_edu.viz.gmm import plot_gmm_split, plot_score_distributions
from paa_edu.viz.history import (
                                plot_cut_over_training,
                                plot_positives_over_training,
                                plot_split_over_training,
)
from paa_edu.viz.merge import plot_merge_seam, plot_merged_detections
from paa_edu.viz.nms import plot_nms, plot_nms_thresholds
from paa_edu.viz.windows import plot_object_in_window, plot_windows

__all__ = ["plot_rotated_boxes", "plot_detections", "plot_assignments", "plot_assignment_zoom",
           "draw_atss_threshold",
           "plot_gmm_split",
           "plot_score_distributions", "plot_loss_curves", "plot_pr_curves",
           "plot_iou_calibration", "plot_iou_loss_floor", "plot_detections_vs_gt",
           "plot_ap_breakdown",
           "plot_split_over_training", "plot_positives_over_training", "plot_cut_over_training",
           "plot_anchor_neighbourhood", "plot_iou_heatmap", "level_iou_maps"]
__all__ += ["plot_failure_gallery"]
__all__ += ["plot_angle_conventions", "plot_angle_sweep", "plot_nms", "plot_nms_thresholds"]
__all__ += ["plot_candidate_scores", "plot_pool_sizes", "plot_windows", "plot_object_in_window",
            "plot_merge_seam", "plot_merged_detections"]
