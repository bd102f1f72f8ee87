"""Plots of what the assigners and the detector do (matplotlib). A reading guide:

- :mod:`~paa_edu.viz.style`: what every plot shares (dpi, fonts, colours, layout helpers);
  :mod:`~paa_edu.viz.boxes`: rotated boxes (:func:`plot_rotated_boxes` draws every one) and
  detections, against the ground truth too; :mod:`~paa_edu.viz.failures`: missed objects and false
  positives, zoomed.
- :mod:`~paa_edu.viz.angles`: one rectangle in each angle convention; :mod:`~paa_edu.viz.nms`:
  rotated vs horizontal NMS on a parking lot.
- :mod:`~paa_edu.viz.anchors`: the anchors near one object and its IoU with each;
  :mod:`~paa_edu.viz.assignments`: the positives of several assigners, ATSS's threshold.
- :mod:`~paa_edu.viz.gmm`: PAA's split of one object's candidate scores into two Gaussians;
  :mod:`~paa_edu.viz.candidates`: the same candidates on the image; :mod:`~paa_edu.viz.history`:
  the split, and the positives, over training.
- :mod:`~paa_edu.viz.curves`: losses, precision-recall, IoU calibration, AP breakdowns.
- :mod:`~paa_edu.viz.windows`, :mod:`~paa_edu.viz.merge`: the DOTA split's windows, and the merge
  of the patches' detections.

Conventions: a single-panel plot takes ``ax=`` (draw into your own layout) or ``figsize=`` (a new
figure), a multi-panel one ``figsize=`` or ``panel_size=``. Each returns the Figure: in a notebook
end the line with ``;`` or it may be shown twice. Boxes are (N, 5) ``cx, cy, w, h, theta`` in image
pixels, y pointing down; an ``image`` is a (3, H, W) tensor or an (H, W, 3) array in those pixels
(or ``None`` where a plot can do without); ``class_names`` are indexed by label (default: the
numbers); detections below ``score_thr`` are not drawn."""
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
