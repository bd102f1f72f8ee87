"""Evaluation: how good are the detections, and why. Read :mod:`~paa_edu.evaluation.rotated_ap`
(DOTA Task-1 AP) first, then sizes, failures, positives, iou_floor and report (the tables)."""
