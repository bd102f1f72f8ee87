"""The training step's inputs: targets checked once per batch, cached anchors, few syncs.

The sync count uses ``benchmarks/bench_train_step.py``'s counter (ATen ops whose output size
depends on the data, and boolean-mask indexing); it counts operations, not time.
"""
from __future__ import annotations

import pytest
import torch
from script_loader import load_script

from paa_edu.config import apply_overrides
from paa_edu.model import RotatedPAADetector
from paa_edu.presets import tiny_synthetic


def _model(*overrides: str) -> RotatedPAADetector:
    cfg = apply_overrides(tiny_synthetic(), ["model.backbone_width=8", "model.fpn_channels=16",
                                             "model.num_convs=1", *overrides])
    torch.manual_seed(0)
    return RotatedPAADetector(cfg.model)


def _bench():
    return load_script("benchmarks/bench_train_step.py")


def test_bad_target_is_named_by_image(fixed_batch):
    images, targets = fixed_batch
    model = _model().train()
    bad = [dict(targets[0]), {**targets[1], "boxes": targets[1]["boxes"].clone()}]
    bad[1]["boxes"][0, 2] = -1.0
    with pytest.raises(ValueError, match=r"targets\[1\]\['boxes'\] has a negative width"):
        model(images, bad)
    bad[1]["boxes"][0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"targets\[1\]\['boxes'\] contains NaN"):
        model(images, bad)
    with pytest.raises(ValueError, match=r"targets\[0\] must hold boxes"):
        model(images, [{**targets[0], "labels": targets[0]["labels"][:1]}, targets[1]])


def test_targets_stay_where_they_are_until_the_model_moves_them(fixed_batch):
    _, targets = fixed_batch
    moved = _model().prepare_targets(targets, torch.device("cpu"))
    assert all(torch.equal(m["boxes"], t["boxes"]) for m, t in zip(moved, targets))


def test_anchors_are_built_once_per_size_and_device():
    model = _model()
    first, counts = model.anchors_for([(8, 8), (4, 4), (2, 2)], torch.device("cpu"))
    again, _ = model.anchors_for([(8, 8), (4, 4), (2, 2)], torch.device("cpu"))
    assert again is first and counts == [64, 16, 4]
    levels = model.anchor_generator.grid_anchors([(8, 8), (4, 4), (2, 2)])
    assert torch.equal(first, torch.cat(levels))  # oracle: the generator itself
    other, _ = model.anchors_for([(4, 4), (2, 2), (1, 1)], torch.device("cpu"))
    assert other.shape == (21, 5)


@pytest.mark.parametrize("overrides", [(), ("model.paa_init=maxiou",)])
def test_a_paa_training_step_has_at_most_30_syncs(fixed_batch, overrides):
    images, targets = fixed_batch
    bench = _bench()
    model = _model(*overrides).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    with bench.OpCounter() as counter:
        bench.timed_step(model, optimizer, images, targets, lambda: None, counter)
    per_stage = {stage: syncs for stage, (_, syncs) in counter.stages.items()}
    total = sum(syncs for stage, syncs in per_stage.items() if stage != "backward+step")
    assert total <= 30, per_stage
    # ATSS: the window check and, for GTs far outside the grid, its dense fallback; MaxIoU: the
    # window sizes and the overlap test
    assert per_stage["initial assign"] <= 2 * len(targets)


def test_the_counter_sees_boolean_mask_indexing():
    bench = _bench()
    x = torch.arange(6.0)
    with bench.OpCounter() as counter:
        x[x > 2]  # one sync on a GPU
        x[torch.tensor([0, 1])]  # none
        torch.where(x > 2, x, 0.0)  # none
    assert counter.syncs == 1
