"""Anchor assigners: which anchors learn from which ground truth (MaxIoU, ATSS, PAA).

All three return an :class:`AssignResult`; PAA adds a model-driven second pass whose heart is a
two-component Gaussian mixture per GT (:func:`gmm_split`), fitted for all GTs at once.
"""
from paa_edu.assigners.atss import ATSSAssigner
from paa_edu.assigners.counts import (
    assign_settings,
    format_counts,
    ignored_per_gt,
    object_names,
    positives_per_gt,
)
from paa_edu.assigners.gmm import GMMFit, fit_gmm_1d, gmm_split, paa_like_scores
from paa_edu.assigners.maxiou import MaxIoUAssigner
from paa_edu.assigners.paa import PAAAssigner, PAARecord
from paa_edu.assigners.result import AssignResult

__all__ = ["AssignResult", "MaxIoUAssigner", "ATSSAssigner", "PAAAssigner", "PAARecord",
           "GMMFit", "fit_gmm_1d", "gmm_split", "paa_like_scores",
           "assign_settings", "positives_per_gt", "ignored_per_gt", "object_names",
           "format_counts"]
