"""Config presets, ``--set`` overrides, validation and the dict round trip."""
from __future__ import annotations

import pytest

from paa_edu.config import (
    PRESETS,
    apply_overrides,
    config_from_dict,
    get_config,
    r50_dota_1x,
    tiny_synthetic,
)


def test_seed_preset_matches_the_seed_schedule():
    cfg = r50_dota_1x()
    assert (cfg.model.num_classes, cfg.model.depth, cfg.model.fpn_channels) == (15, 50, 256)
    assert cfg.model.strides == (8, 16, 32, 64, 128)
    t = cfg.train
    assert (t.lr, t.momentum, t.weight_decay, t.batch_size) == (0.0025, 0.9, 1e-4, 2)
    assert (t.epochs, t.lr_steps, t.warmup_iters, t.warmup_ratio, t.grad_clip) == \
        (12, (8, 11), 500, 0.001, 35.0)
    assert (cfg.model.nms_pre, cfg.model.score_thr, cfg.model.nms_iou, cfg.model.max_per_img) \
        == (2000, 0.05, 0.1, 2000)


def test_overrides_parse_types_and_do_not_mutate_the_input():
    base = tiny_synthetic()
    cfg = apply_overrides(base, ["train.lr=1", "model.strides=[8, 16]", "model.assigner=atss",
                                 "train.max_iters=None", "model.use_gn=False"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.model.strides == (8, 16) and cfg.model.assigner == "atss"
    assert cfg.model.use_gn is False
    assert base.train.lr != 1.0 and base.model.assigner == "paa"


@pytest.mark.parametrize("item, match", [
    ("train.lr", "key=value"), ("nope.lr=1", "unknown section"), ("train.nope=1", "unknown field"),
    ("train.epochs=abc", "expected int"), ("model.use_gn=1", "bool"),
    ("model.assigner=hungarian", "model.assigner"), ("model.strides=(8, 12)", "strides"),
])
def test_bad_overrides_raise_clear_errors(item, match):
    with pytest.raises(ValueError, match=match):
        apply_overrides(tiny_synthetic(), [item])


def test_every_preset_round_trips_through_a_dict():
    for name in PRESETS:
        cfg = get_config(name)
        assert config_from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown config"):
        get_config("r101")
