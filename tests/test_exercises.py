"""The checkers accept the right answer and name typical mistakes (paa_edu.exercises)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paa_edu import exercises
from paa_edu.assigners import gmm_split, paa_like_scores
from paa_edu.data.merge import merge_patch_detections
from paa_edu.evaluation.rotated_ap import average_precision
from paa_edu.geometry import regularize_boxes
from paa_edu.model.losses import sigmoid_focal_loss


def verdict(capsys, checker, fn) -> tuple[bool, str]:
    ok = checker(fn)
    line = capsys.readouterr().out.strip()
    assert "\n" not in line  # one line, whatever happens
    return ok, line


@pytest.mark.parametrize("checker, right", [
    (exercises.check_regularize_boxes, regularize_boxes),
    (exercises.check_atss, exercises.atss_reference),
    (exercises.check_separation, exercises.separation_reference),
    (exercises.check_focal_loss, sigmoid_focal_loss),
    (exercises.check_voc07_ap, average_precision),
    (exercises.check_merge, merge_patch_detections),
])
def test_the_library_answer_passes(capsys, checker, right):
    ok, line = verdict(capsys, checker, right)
    assert ok and line.startswith("✓"), line


def test_an_exception_is_one_line(capsys):
    def broken(*args):
        raise IndexError("index 9 is out of bounds")
    ok, line = verdict(capsys, exercises.check_voc07_ap, broken)
    assert not ok and line == "✗ VOC07 AP: case 0 raised IndexError: index 9 is out of bounds"


def test_regularize_boxes_mistakes(capsys):
    def no_swap(boxes, version):
        out = boxes.clone()  # wraps theta into [-pi/4, 3pi/4) but keeps w < h boxes
        out[:, 4] = torch.remainder(out[:, 4] + math.pi / 4, math.pi) - math.pi / 4
        return out
    ok, line = verdict(capsys, exercises.check_regularize_boxes, no_swap)
    assert not ok and "the long edge must come first" in line

    def le90_instead(boxes, version):
        return regularize_boxes(boxes, "le90")
    ok, line = verdict(capsys, exercises.check_regularize_boxes, le90_instead)
    assert not ok and "expected" in line


def test_atss_mistakes(capsys):
    for wrong, message in [({"threshold": "mean"}, "threshold is the mean, not mean + std"),
                           ({"per_level": False}, "on each level"),
                           ({"centre_inside": False}, "centre must lie inside")]:
        ok, line = verdict(capsys, exercises.check_atss,
                           lambda *a, w=wrong: exercises.atss_reference(*a, **w))
        assert not ok and message in line and "GT " in line, line


def test_atss_reference_is_atss_on_a_hand_worked_case():
    # One level, three anchors on a row, one GT centred on anchor 1: with k = 3 the candidates
    # are all three, IoUs (a, 1, a) with a = 1/3 (a quarter-box overlap of 8x8 boxes spaced 4
    # apart: 32 / (64 + 64 - 32)); mean + std = 5/9 + 0.3849 = 0.94: only anchor 1 is positive.
    anchors = torch.tensor([[0, 0, 8, 8, 0], [4, 0, 8, 8, 0], [8, 0, 8, 8, 0.0]],
                           dtype=torch.float64)
    gt = torch.tensor([[4, 0, 8, 8, 0.0]], dtype=torch.float64)
    assert exercises.atss_reference(anchors, gt, [3], topk=3).tolist() == [0, 1, 0]


def test_separation_reference_is_the_library_cut():
    scores, valid = paa_like_scores(12, 20, seed=3)  # (G, K) each
    scores = scores.double()
    positives, fit = gmm_split(scores, valid, return_fit=True)
    for g in range(len(scores)):
        if valid[g].sum() < 2:
            continue
        order = torch.where(valid[g], scores[g], math.inf).argsort()[:int(valid[g].sum())]
        x = scores[g, order]
        w, m, v = fit.weights[g].double(), fit.means[g].double(), fit.variances[g].double()
        log_p = w.log() - 0.5 * (math.log(2 * math.pi) + v.log() + (x[:, None] - m) ** 2 / v)
        low = log_p.argmax(1) == fit.low_component()[g]
        mine = exercises.separation_reference(x, low, torch.logsumexp(log_p, 1))
        assert torch.equal(mine, positives[g, order])


def test_separation_mistakes(capsys):
    ok, line = verdict(capsys, exercises.check_separation, lambda s, low, d: low)
    assert not ok and "rule (c) stops at its most likely member" in line
    ok, line = verdict(capsys, exercises.check_separation, lambda s, low, d: low & (
        torch.arange(len(s)) >= exercises.separation_reference(s, low, d).nonzero().max()))
    assert not ok and "up to f*, not from f* on" in line


def test_focal_loss_on_a_hand_worked_case_and_its_mistakes(capsys):
    # logit 0: p = 1/2, BCE = ln 2; a positive costs 0.25 * (1/2)^2 * ln 2, a negative 0.75 * ...
    loss = sigmoid_focal_loss(torch.zeros(1, 2, dtype=torch.float64),
                              torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(loss, torch.tensor([[0.0625, 0.1875]], dtype=torch.float64)
                          * math.log(2))

    def alpha_on_negatives(logits, targets):
        p = torch.sigmoid(logits)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets,
                                                                  reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        return 0.25 * (1 - p_t) ** 2 * ce
    ok, line = verdict(capsys, exercises.check_focal_loss, alpha_on_negatives)
    assert not ok and "negatives are weighted by 1 - alpha" in line

    ok, line = verdict(capsys, exercises.check_focal_loss, lambda lg, t: torch.nn.functional
                       .binary_cross_entropy_with_logits(lg, t, reduction="none"))
    assert not ok and "expected" in line


def test_voc07_ap_hand_worked_and_mistakes(capsys):
    # Two GTs, detections hit, miss, hit: recall (.5, .5, 1), precision (1, .5, 2/3). The best
    # precision at recall >= t is 1 for t <= 0.5 (6 levels) and 2/3 above (5): (6 + 10/3) / 11.
    r, p = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    assert math.isclose(average_precision(r, p, "voc07"), (6 + 10 / 3) / 11)
    ok, line = verdict(capsys, exercises.check_voc07_ap,
                       lambda r, p: average_precision(r, p, "area"))
    assert not ok and "all-point area" in line


def test_merge_mistakes(capsys):
    ok, line = verdict(capsys, exercises.check_merge,
                       lambda d, t: exercises._merge_variant(d, t, nms=False))
    assert not ok and "image P0001: you keep" in line and "run NMS" in line
    ok, line = verdict(capsys, exercises.check_merge,
                       lambda d, t: exercises._merge_variant(d, t, shift=False))
    assert not ok and "window origin" in line
