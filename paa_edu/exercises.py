"""Checked exercises: a student's function against the library, on cases it has not seen.

``check_<piece>(fn)`` (lessons 01 to 06, in order) runs ``fn`` on hidden seeded cases and prints
one line: ``✓`` and the number of cases, or ``✗``, the first case that differs and, when the
answers are exactly a typical mistake's (alpha on the negatives, ...), that mistake. It returns
True or False; an exception inside ``fn`` is reported in that line, never raised.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from paa_edu import geometry
from paa_edu.assigners import ATSSAssigner
from paa_edu.assigners.gmm import most_likely_member
from paa_edu.data.merge import merge_patch_detections, parse_patch_name, patch_to_image
from paa_edu.evaluation.rotated_ap import average_precision
from paa_edu.model.losses import sigmoid_focal_loss


def _verdict(piece: str, fn: Callable, cases: list[tuple], expected: Callable,
             same: Callable, mistakes: dict[str, Callable], describe: Callable) -> bool:
    """The module docstring's check; ``mistakes``: message -> function."""
    answers = []
    for number, case in enumerate(cases):
        try:
            answers.append(fn(*case))
        except Exception as err:  # the student's code: report it, do not stop the lesson
            print(f"✗ {piece}: case {number} raised {type(err).__name__}: {err}")
            return False
    wants = [expected(*case) for case in cases]
    wrong = [n for n, (a, w) in enumerate(zip(answers, wants)) if not same(a, w)]
    if not wrong:
        print(f"✓ {piece}: equal to the library on {len(cases)} cases it had not seen")
        return True
    hint = next((message for message, mistake in mistakes.items()
                 if all(same(a, mistake(*case)) for a, case in zip(answers, cases))), None)
    n = wrong[0]
    print(f"✗ {piece}: case {n}, {describe(cases[n], answers[n], wants[n])}"
          + (f"; {hint}" if hint else ""))
    return False


_f64 = partial(torch.as_tensor, dtype=torch.float64)  # an answer as a float64 tensor

def _close(a, b) -> bool:
    a, b = _f64(a), _f64(b)
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-6)


def _describe_row(what: Callable, digits: int) -> Callable:
    """A ``describe``: ``<what(case, row)>: you return [...], expected [...]`` or the shape."""
    def describe(case, answer, want):
        a, b = _f64(answer), _f64(want)
        if a.shape != b.shape:
            return f"you return shape {tuple(torch.as_tensor(answer).shape)}"
        row = next(i for i in range(len(a)) if not torch.allclose(a[i], b[i], 1e-6, 1e-6))
        got, exp = torch.as_tensor(answer)[row].tolist(), want[row].tolist()
        return (f"{what(case, row)}: you return {[round(v, digits) for v in got]}, "
                f"expected {[round(v, digits) for v in exp]}")
    return describe


def check_regularize_boxes(fn: Callable, version: str = "le135") -> bool:
    """``fn(boxes (N, 5), version) -> (N, 5)``: the same rectangles in ``version``'s form."""
    gen = torch.Generator().manual_seed(101)
    cases = []
    for n in (1, 6, 40):
        boxes = torch.rand(n, 5, generator=gen, dtype=torch.float64)
        boxes[:, :2] *= 100
        boxes[:, 2:4] = 1 + 60 * boxes[:, 2:4]
        boxes[:, 4] = (boxes[:, 4] - 0.5) * 4 * math.pi  # several turns either way
        cases.append((boxes, version))
    cases.append((torch.tensor([[0, 0, 10, 30, 0.0], [5, 5, 30, 29, -math.pi / 4],
                                [1, 1, 29, 30, 3 * math.pi / 4]], dtype=torch.float64), version))

    def no_swap(boxes, version):
        return torch.cat([boxes[:, :4], geometry.norm_angle(boxes[:, 4:], version)], 1)

    def swap_only(boxes, version):
        cx, cy, w, h, theta = boxes.unbind(-1)
        swap = w < h
        return torch.stack([cx, cy, torch.where(swap, h, w), torch.where(swap, w, h),
                            torch.where(swap, theta + math.pi / 2, theta)], -1)

    mistakes = {"the long edge must come first: when w < h, swap them and add pi/2": no_swap,
                "theta must be wrapped into the version's range too": swap_only}
    return _verdict(f"regularize_boxes ({version})", fn, cases, geometry.regularize_boxes, _close,
                    mistakes, _describe_row(lambda case, row: f"box {case[0][row].tolist()}", 4))


def atss_reference(anchors, gt_boxes, num_level_anchors, topk=9, threshold="mean+std",
                   per_level=True, centre_inside=True):
    """ATSS, a loop over GTs (``gt_inds`` (A,): g + 1 for GT g, 0 negative); the keyword
    arguments switch on the typical mistakes the checker recognises."""
    ious = geometry.box_iou_rotated(gt_boxes, anchors)  # (G, A)
    dist = (gt_boxes[:, None, :2] - anchors[None, :, :2]).norm(dim=-1)  # (G, A)
    starts = [0, *np.cumsum(num_level_anchors)[:-1].tolist()]
    levels = list(zip(starts, num_level_anchors)) if per_level else [(0, len(anchors))]
    best = torch.zeros(len(anchors), dtype=ious.dtype)  # (A,) IoU of each anchor's claim
    gt_inds = torch.zeros(len(anchors), dtype=torch.long)  # (A,)
    for g in range(len(gt_boxes)):
        cand = torch.cat([s + dist[g, s:s + n].argsort(stable=True)[:topk] for s, n in levels])
        iou = ious[g, cand]
        thr = {"mean+std": iou.mean() + iou.std(), "mean": iou.mean(),
               "mean+population std": iou.mean() + iou.std(correction=0)}[threshold]
        keep = iou >= thr
        if centre_inside:
            keep &= geometry.points_in_rboxes(anchors[cand, :2], gt_boxes[g:g + 1])[0]
        pos = cand[keep]
        wins = ious[g, pos] > best[pos]
        gt_inds[pos[wins]], best[pos[wins]] = g + 1, ious[g, pos[wins]]
    return gt_inds


def check_atss(fn: Callable) -> bool:
    """``fn(anchors (A, 5), gt_boxes (G, 5), num_level_anchors, topk) -> gt_inds (A,)``."""
    gen = torch.Generator().manual_seed(202)
    levels = []  # two levels (strides 8, 16) of square anchors on a 64 px image
    for stride in (8, 16):
        xs = (torch.arange(64 // stride, dtype=torch.float64) + 0.5) * stride
        cy, cx = torch.meshgrid(xs, xs, indexing="ij")
        side = torch.full_like(cx, 4.0 * stride)
        levels.append(torch.stack([cx, cy, side, side, 0 * cx], -1).reshape(-1, 5))
    cases = []
    for num_gts in (1, 2, 3, 5):
        gts = torch.rand(num_gts, 5, generator=gen, dtype=torch.float64)
        gts = gts * torch.tensor([44.0, 44.0, 30.0, 14.0, math.pi]) + torch.tensor(
            [10.0, 10.0, 10.0, 6.0, -math.pi / 4])
        cases.append((torch.cat(levels), gts, [len(level) for level in levels], 5))

    def library(anchors, gt_boxes, counts, topk):
        labels = torch.zeros(len(gt_boxes), dtype=torch.long)
        return ATSSAssigner(topk=topk).assign(anchors, gt_boxes, labels, counts).gt_inds

    def describe(case, answer, want):
        answer = torch.as_tensor(answer)
        if answer.shape != want.shape:
            return f"you return shape {tuple(answer.shape)}, expected {tuple(want.shape)}"
        for g in range(len(case[1])):
            got, exp = int((answer == g + 1).sum()), int((want == g + 1).sum())
            if got != exp or not torch.equal(answer == g + 1, want == g + 1):
                return f"GT {g}: you return {got} positives, expected {exp}"
        return "the negatives differ"

    mistakes = {message: partial(atss_reference, **wrong) for message, wrong in [
        ("your threshold is the mean, not mean + std", {"threshold": "mean"}),
        ("ATSS uses the sample std (torch.std, n - 1), not the population std",
         {"threshold": "mean+population std"}),
        ("the k nearest anchors are taken on each level, not over all levels",
         {"per_level": False}),
        ("a positive's centre must lie inside its GT", {"centre_inside": False})]}
    return _verdict("ATSS", fn, cases, library,
                    lambda a, b: torch.equal(torch.as_tensor(a).long(), b), mistakes, describe)


def separation_reference(scores, low, log_density):
    """Fig. 3(c): the low component's members up to its most likely one (f*)."""
    if not low.any():
        return torch.zeros_like(low)
    f_star = most_likely_member(torch.where(low, log_density, -math.inf)[None])[0]
    return low & (torch.arange(len(scores)) <= f_star)


def check_separation(fn: Callable) -> bool:
    """``fn(scores (K,) ascending, low (K,) bool, log_density (K,)) -> positives (K,) bool``."""
    gen = torch.Generator().manual_seed(303)
    cases = []
    for k_low, k_high in ((3, 6), (5, 20), (10, 35), (1, 8), (12, 3)):  # two Gaussians' draws
        x = torch.cat([0.3 + 0.1 * torch.randn(k_low, generator=gen, dtype=torch.float64),
                       1.2 + 0.3 * torch.randn(k_high, generator=gen, dtype=torch.float64)]
                      ).sort().values
        means, var = torch.tensor([0.3, 1.2], dtype=x.dtype), torch.tensor([0.01, 0.09])
        weights = torch.tensor([k_low, k_high], dtype=x.dtype) / len(x)
        log_p = weights.log() - 0.5 * (math.log(2 * math.pi) + var.log()
                                       + (x[:, None] - means) ** 2 / var)  # (K, 2)
        cases.append((x, log_p[:, 0] > log_p[:, 1], torch.logsumexp(log_p, 1)))

    def describe(case, answer, want):
        answer = torch.as_tensor(answer).bool()
        return (f"{len(case[0])} candidates ({int(case[1].sum())} in the low component): you "
                f"keep {int(answer.sum())}, expected {int(want.sum())}")

    mistakes = {"that is the whole low component (rule a); rule (c) stops at its most likely "
                "member f*": lambda scores, low, log_density: low,
                "keep the candidates up to f*, not from f* on": lambda s, low, d: low & (
                    torch.arange(len(s)) >= separation_reference(s, low, d).nonzero().max())}
    return _verdict("separation rule (c)", fn, cases, separation_reference,
                    lambda a, b: torch.equal(torch.as_tensor(a).bool(), b), mistakes, describe)


def _focal(logits, targets, alpha_pos=0.25, alpha_neg=0.75, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    return (alpha_pos * targets + alpha_neg * (1 - targets)) * (1 - p_t) ** gamma * ce


def check_focal_loss(fn: Callable) -> bool:
    """``fn(logits (N, C), targets (N, C) 0/1) -> (N, C)`` focal loss (alpha 0.25, gamma 2)."""
    gen = torch.Generator().manual_seed(404)
    cases = [(4 * torch.randn(n, c, generator=gen, dtype=torch.float64),  # (logits, targets)
              (torch.rand(n, c, generator=gen) < 0.3).double())
             for n, c in ((1, 1), (8, 3), (50, 15))]
    mistakes = {
        "negatives are weighted by 1 - alpha, positives by alpha":
            partial(_focal, alpha_neg=0.25),
        "alpha weights the positives (0.25), not the negatives":
            partial(_focal, alpha_pos=0.75, alpha_neg=0.25),
        "the modulating factor (1 - p_t)^gamma is missing": partial(_focal, gamma=0.0),
        "gamma is 2: (1 - p_t) squared": partial(_focal, gamma=1.0),
        "alpha is missing": partial(_focal, alpha_pos=1.0, alpha_neg=1.0)}

    def row(case, i):
        return (f"logits {[round(v, 3) for v in case[0][i].tolist()]}, "
                f"targets {case[1][i].tolist()}")
    return _verdict("sigmoid focal loss", fn, cases, sigmoid_focal_loss, _close, mistakes,
                    _describe_row(row, 5))


def check_voc07_ap(fn: Callable) -> bool:
    """``fn(recall (N,), precision (N,)) -> float``: the 11-point VOC2007 AP."""
    rng = np.random.default_rng(505)
    cases = []
    for n, npos in ((1, 1), (5, 3), (30, 12), (200, 40)):
        tp = np.cumsum(rng.random(n) < 0.6)
        cases.append((tp / npos * min(1.0, npos / max(tp[-1], 1)) if tp[-1] > npos
                      else tp / npos, tp / np.arange(1, n + 1)))

    def best_precision_at(levels, at):  # the mean over levels t of the best precision at(r, t)
        return lambda r, p: float(np.mean([p[at(r, t)].max() if at(r, t).any() else 0.0
                                           for t in levels]))

    mistakes = {"that is the all-point area (metric 'area'), not the 11 points":
                    partial(average_precision, metric="area"),
                "VOC07 samples 11 recall levels, 0.0, 0.1, ..., 1.0 (you use 10)":
                    best_precision_at(np.arange(0.1, 1.05, 0.1), np.greater_equal),
                "at each level take the best precision at recall >= t, not at recall == t":
                    best_precision_at(np.arange(0.0, 1.1, 0.1), np.isclose)}
    return _verdict("VOC07 AP", fn, cases, average_precision,
                    lambda a, b: a is not None and math.isclose(float(a), b, abs_tol=1e-9),
                    mistakes, lambda case, a, b: f"{len(case[0])} detections: you return {a}, "
                                                 f"expected {b:.6f}")


def _merge_variant(dets, thr, shift=True, class_wise=True, nms=True):
    images: dict[str, list[str]] = {}  # original image -> its patch names, sorted
    for name in sorted(dets):
        images.setdefault(parse_patch_name(name).stem, []).append(name)
    merged = {}
    for stem, names in images.items():
        boxes = torch.cat([patch_to_image(dets[n]["boxes"], *parse_patch_name(n)[1:]) if shift
                           else dets[n]["boxes"] for n in names])
        scores, labels = (torch.cat([dets[n][k] for n in names]) for k in ("scores", "labels"))
        keep = torch.arange(len(scores)) if not nms else (
            geometry.batched_nms_rotated(boxes, scores, labels, thr) if class_wise
            else geometry.nms_rotated(boxes, scores, thr))
        keep = keep[torch.argsort(scores[keep], descending=True, stable=True)]
        merged[stem] = {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
    return merged


def check_merge(fn: Callable) -> bool:
    """``fn({patch name: dict(boxes, scores, labels)}, iou_threshold) -> {image: dict}``: patch
    detections in image coordinates, class-wise rotated NMS, sorted by decreasing score."""
    gen = torch.Generator().manual_seed(606)
    cases = []
    for names in (["P0001__1024__0___0"], ["P0001__1024__0___0", "P0001__1024__824___0"],
                  ["P0002__1024__0___0", "P0002__0.5__0___200", "P0003__1024__400___400"]):
        dets = {}
        for name in names:  # six detections, the last three near-duplicates: NMS has work
            boxes = torch.rand(6, 5, generator=gen, dtype=torch.float64) * torch.tensor(
                [60.0, 60.0, 20.0, 10.0, 1.0]) + torch.tensor([10.0, 10.0, 10.0, 5.0, 0.0])
            boxes[3:, :2] = boxes[:3, :2] + 1
            scores = torch.rand(6, generator=gen, dtype=torch.float64)
            dets[name] = dict(boxes=boxes, scores=scores, labels=torch.tensor([0, 1, 0, 0, 1, 1]))
        cases.append((dets, 0.1))

    def alike(a, b):  # one image's detections
        return _close(a["boxes"], b["boxes"]) and _close(a["scores"], b["scores"])

    def same(a, b):
        return isinstance(a, dict) and sorted(a) == sorted(b) and all(alike(a[k], b[k]) for k in b)

    def describe(case, answer, want):
        if not isinstance(answer, dict) or sorted(answer) != sorted(want):
            return (f"patches {sorted(case[0])}: you return the images "
                    f"{sorted(answer) if isinstance(answer, dict) else answer!r}, expected "
                    f"{sorted(want)}")
        image = next(k for k in want if not alike(answer[k], want[k]))
        got, exp = len(answer[image]["boxes"]), len(want[image]["boxes"])
        return (f"image {image}: you keep {got} boxes, expected {exp}"
                + (" (or other boxes)" if got == exp else ""))

    mistakes = {"shift each patch's boxes by its window origin (x, y), divided by the rate":
                    partial(_merge_variant, shift=False),
                "NMS is class-wise: a box never suppresses a box of another class":
                    partial(_merge_variant, class_wise=False),
                "the windows overlap: run NMS over the merged boxes":
                    partial(_merge_variant, nms=False)}
    return _verdict("merge", fn, cases, merge_patch_detections, same, mistakes,
                    describe)
