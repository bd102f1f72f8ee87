"""Plots of what the assigners and the detector do (matplotlib). A reading guide:

- :mod:`~paa_edu.viz.style`: what every plot shares (dpi, fonts, colours, layout helpers).
- :mod:`~paa_edu.viz.boxes`: rotated boxes (every plot draws them with
  :func:`plot_rotated_boxes`), detections, and detections against the ground truth.
- :mod:`~paa_edu.viz.angles`, :mod:`~paa_edu.viz.nms`: one rectangle in each angle convention;
  rotated vs horizontal NMS on a parking lot.
- :mod:`~paa_edu.viz.anchors`, :mod:`~paa_edu.viz.assignments`: the anchors near one object
  and its IoU with each; the positives of several assigners, and ATSS's ``mean + std`` rule.
- :mod:`~paa_edu.viz.gmm`, :mod:`~paa_edu.viz.candidates`: PAA's split of one object's
  candidate scores into two Gaussians, and the same candidates on the image.
- :mod:`~paa_edu.viz.history`: that split, and the positives, over training.
- :mod:`~paa_edu.viz.curves`, :mod:`~paa_edu.viz.failures`: losses, precision-recall, IoU
  calibration, AP breakdowns; the missed objects and false positives, zoomed.
- :mod:`~paa_edu.viz.windows`, :mod:`~paa_edu.viz.merge`: the DOTA split's windows, and the
  merge of the patches' detections.

Conventions: a single-panel plot takes ``ax=`` (draw into your own layout) or ``figsize=`` (a
new figure), a multi-panel one ``figsize=``. Each returns the Figure, so in a notebook end the
line with ``;`` or it may be shown twice. Boxes are (N, 5) ``cx, cy, w, h, theta`` in image
pixels, y pointing down; an ``image`` is a (3, H, W) tensor or an (H, W, 3) array in the same
pixels, or ``None`` where the plot can do without; ``class_names`` are indexed by label
(default: the label numbers); detections below ``score_thr`` are not drawn; a multi-panel
plot's ``panel_size`` (inches per panel) is used when ``figsize`` is ``None``.
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

__all__ = [
    "level_iou_maps", "plot_anchor_neighbourhood", "plot_iou_heatmap", "plot_angle_conventions",
    "plot_angle_sweep", "draw_atss_threshold", "plot_assignment_zoom", "plot_assignments",
    "plot_detections", "plot_detections_vs_gt", "plot_rotated_boxes", "plot_candidate_scores",
    "plot_pool_sizes", "plot_ap_breakdown", "plot_iou_calibration", "plot_iou_loss_floor",
    "plot_loss_curves", "plot_pr_curves", "plot_failure_gallery", "plot_gmm_split",
    "plot_score_distributions", "plot_cut_over_training", "plot_positives_over_training",
    "plot_split_over_training", "plot_merge_seam", "plot_merged_detections", "plot_nms",
    "plot_nms_thresholds", "plot_object_in_window", "plot_windows"]
