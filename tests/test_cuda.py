"""The CUDA path equals the CPU path (``pytest -m cuda``, run by ``scripts/gpu_check.sh``).

Every test is skipped without a GPU. Oracle: the same function on the CPU, in float64 where
the tolerance matters. Stated tolerances:

- rotated IoU: float64 1e-9 absolute, float32 2e-5 absolute (the clipping is elementwise);
- NMS: the same kept indices (scores without ties, IoUs away from the threshold);
- GMM split: the same positives, parameters 1e-9 relative (float64 EM);
- losses of one detector forward pass: 1e-3 relative (cuDNN convolutions differ in rounding);
- uint8 normalisation on the device: bit-identical.
"""
from __future__ import annotations

import pytest
import torch

from paa_edu.assigners.gmm import gmm_split, paa_like_scores
from paa_edu.config import apply_overrides
from paa_edu.geometry import box_iou_rotated, nms_rotated
from paa_edu.model import RotatedPAADetector
from paa_edu.presets import tiny_synthetic

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")]


def _boxes(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 5, generator=g, dtype=dtype)
    return torch.stack([u[:, 0] * 200, u[:, 1] * 200, 5 + 60 * u[:, 2], 5 + 30 * u[:, 3],
                        (u[:, 4] - 0.5) * 3.14], dim=1)  # (n, 5)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 2e-5)])
def test_rotated_iou_matches_cpu(dtype, tol):
    a, b = _boxes(300, 0, dtype), _boxes(200, 1, dtype)
    cpu = box_iou_rotated(a, b)
    gpu = box_iou_rotated(a.cuda(), b.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, atol=tol, rtol=0)
    aligned = box_iou_rotated(a[:200].cuda(), b.cuda(), aligned=True).cpu()
    torch.testing.assert_close(aligned, box_iou_rotated(a[:200], b, aligned=True), atol=tol,
                               rtol=0)


def test_nms_keeps_the_same_boxes():
    boxes = _boxes(2000, 2)
    scores = torch.randperm(2000, generator=torch.Generator().manual_seed(3)).double() / 2000
    keep_cpu = nms_rotated(boxes, scores, 0.1)
    keep_gpu = nms_rotated(boxes.cuda(), scores.cuda(), 0.1).cpu()
    assert torch.equal(keep_gpu, keep_cpu)


def test_gmm_split_matches_cpu():
    losses, valid = paa_like_scores(600, seed=4)
    pos_cpu, fit_cpu = gmm_split(losses, valid, 1e-5, return_fit=True)
    pos_gpu, fit_gpu = gmm_split(losses.cuda(), valid.cuda(), 1e-5, return_fit=True)
    assert torch.equal(pos_gpu.cpu(), pos_cpu)
    torch.testing.assert_close(fit_gpu.means.cpu(), fit_cpu.means, rtol=1e-9, atol=1e-12)
    assert torch.equal(fit_gpu.n_iter.cpu(), fit_cpu.n_iter)


def _model() -> RotatedPAADetector:
    cfg = apply_overrides(tiny_synthetic(), ["model.backbone_width=8", "model.fpn_channels=16"])
    torch.manual_seed(0)
    return RotatedPAADetector(cfg.model).train()


def test_training_losses_match_cpu(fixed_batch):
    images, targets = fixed_batch
    torch.backends.cudnn.deterministic = True
    model = _model()
    cpu = {k: v.item() for k, v in model(images, targets).items()}
    gpu = {k: v.item() for k, v in model.cuda()(images.cuda(), targets).items()}
    assert gpu.keys() == cpu.keys()
    for key in cpu:
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-3), key


def test_uint8_normalisation_on_the_device_is_bit_identical():
    model = _model()
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    shapes = [(64, 50), (40, 64)]
    cpu = model.normalize_images(images, shapes)
    gpu = model.cuda().normalize_images(images.cuda(), shapes).cpu()
    assert torch.equal(gpu, cpu)


def test_one_amp_training_step(fixed_batch, tiny_cfg):
    from paa_edu.engine.train import train_one_step
    images, targets = fixed_batch
    model = _model().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda")
    before = [p.detach().clone() for p in model.parameters()]
    row = train_one_step(model, optimizer, scaler, images.cuda(), targets, tiny_cfg,
                         "cuda amp step")
    assert all(torch.isfinite(torch.tensor(v)) for k, v in row.items() if k.startswith("loss"))
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters()))
