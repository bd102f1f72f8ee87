"""The graph NMS (one sparse pass + rounds) keeps exactly the boxes of the block-wise walk."""
from __future__ import annotations

import pytest
import torch
from geometry_oracles import random_boxes
from hypothesis import given, settings
from hypothesis import strategies as st
from script_loader import load_script

import paa_edu.geometry.nms_graph as graph_module
from paa_edu.geometry import batched_nms_rotated, nms_rotated


def clustered(n: int, seed: int = 0, image: float = 512.0):
    return load_script("benchmarks/scenes.py").clustered_detections(n, seed, image)


def _both(boxes, scores, thr, labels=None):
    if labels is None:
        return (nms_rotated(boxes, scores, thr, method="graph"),
                nms_rotated(boxes, scores, thr, method="blocks"))
    return (batched_nms_rotated(boxes, scores, labels, thr, method="graph"),
            batched_nms_rotated(boxes, scores, labels, thr, method="blocks"))


@pytest.fixture(params=[False, True], ids=["auto", "always-graph"])
def dense_ok(request, monkeypatch):
    """Also run the graph path on scenes it would hand back to the block walk as too dense."""
    if request.param:
        monkeypatch.setattr(graph_module, "_MAX_PAIRS_PER_BOX", 10**9)


@pytest.mark.parametrize("thr", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("n", [1, 2, 300, 3000])
def test_clustered_scenes(n, thr, dense_ok):
    boxes, scores, labels = clustered(n, seed=n)
    for lab in (None, labels):
        fast, ref = _both(boxes, scores, thr, lab)
        assert torch.equal(fast, ref)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.9), st.booleans())
def test_random_scenes(seed, thr, with_labels):
    boxes = random_boxes(200, seed, image=150, size=(1, 80)).float()
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(200, generator=g).round(decimals=1)  # many equal scores
    labels = torch.randint(0, 3, (200,), generator=g) if with_labels else None
    fast, ref = _both(boxes, scores, thr, labels)
    assert torch.equal(fast, ref)


def test_duplicates_huge_empty_and_far_boxes(dense_ok):
    boxes, scores, labels = clustered(500, seed=3)
    extra = torch.tensor([[100.0, 100.0, 3000.0, 2000.0, 0.3],  # larger than the scene
                          [100.0, 100.0, 3000.0, 2000.0, 0.3],  # its duplicate
                          [50.0, 50.0, 0.0, 10.0, 0.0],  # empty
                          [1e5, -1e5, 20.0, 10.0, 1.5],  # far away
                          [1e5, -1e5, 20.0, 10.0, -1.5]])
    boxes = torch.cat([boxes, extra, boxes[:50]])  # exact duplicates too
    scores = torch.cat([scores, torch.tensor([0.5, 0.5, 0.9, 0.2, 0.2]), scores[:50]])
    labels = torch.cat([labels, torch.tensor([1, 1, 1, 2, 2]), labels[:50]])
    for lab in (None, labels):
        fast, ref = _both(boxes, scores, 0.1, lab)
        assert torch.equal(fast, ref)


def test_dense_single_class_goes_back_to_the_block_walk():
    boxes, scores, _ = clustered(3000, seed=1, image=100.0)
    ranked = boxes[scores.argsort(descending=True, stable=True)]
    assert graph_module.graph_nms(ranked, None, 0.1) is None


def test_method_is_checked():
    with pytest.raises(ValueError, match="method"):
        nms_rotated(torch.zeros(1, 5), torch.zeros(1), 0.1, method="fast")
