"""Evaluation: how good are the detections, and why.

Read in this order: :mod:`~paa_edu.evaluation.rotated_ap` (DOTA Task-1 AP, the devkit's rule),
:mod:`~paa_edu.evaluation.sizes` (AP by object size), :mod:`~paa_edu.evaluation.failures`
(what each missed object and false positive is), :mod:`~paa_edu.evaluation.positives` (recall by
training positives), :mod:`~paa_edu.evaluation.iou_floor` (the IoU branch's loss floor) and
:mod:`~paa_edu.evaluation.report` (the seed-style tables).
"""
