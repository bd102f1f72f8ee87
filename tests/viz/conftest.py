"""Shared by the viz tests: a headless backend, every figure closed after each test, and two
small hand-made inputs (a PAA record, a grid of anchors with two objects)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from paa_edu.assigners import AssignResult, ATSSAssigner, MaxIoUAssigner, PAAAssigner  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def paa_record():
    """PAA's record of 4 GTs: 6 candidates (two clear modes), 1, 3 and none."""
    gt_inds = torch.tensor([1, 1, 1, 1, 1, 1, 2, 0, 3, 3, 3])
    init = AssignResult(gt_inds, torch.where(gt_inds > 0, gt_inds - 1, -1),
                        torch.zeros(11), 4)  # GT 4 has no candidate
    scores = torch.tensor([0.2, 0.3, 0.25, 3.0, 3.3, 3.1, 1.0, 0.0, 0.5, 0.6, 2.5])
    paa = PAAAssigner(record=True)
    paa.reassign([init], [scores], [6, 5])
    return paa.last_record


@pytest.fixture
def grid_scene():
    """36 anchors (A, 5) on a 6 x 6 grid, two objects (G, 5), their labels, MaxIoU and ATSS."""
    ys, xs = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    ctr = (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * 16
    anchors = torch.cat([ctr, torch.full((36, 2), 32.0), torch.zeros(36, 1)], 1)
    gts = torch.tensor([[40.0, 40.0, 50.0, 20.0, 0.4], [70.0, 20.0, 30.0, 10.0, 1.2]])
    labels = torch.tensor([0, 1])
    results = {"MaxIoU": MaxIoUAssigner(0.5, 0.4).assign(anchors, gts, labels),
               "ATSS": ATSSAssigner(9).assign(anchors, gts, labels, [36])}
    return anchors, gts, labels, results
