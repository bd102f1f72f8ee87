"""``--set`` overrides, validation and the dict round trip (presets: test_presets.py)."""
from __future__ import annotations

import pytest

from paa_edu.config import apply_overrides, config_from_dict
from paa_edu.presets import PRESETS, get_config, tiny_synthetic


def test_old_checkpoint_configs_with_one_flip_prob_still_load():
    old = tiny_synthetic().to_dict()
    del old["data"]["hflip_prob"], old["data"]["vflip_prob"]
    old["data"]["flip_prob"] = 0.25
    cfg = config_from_dict(old)
    assert (cfg.data.hflip_prob, cfg.data.vflip_prob) == (0.25, 0.25)


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
    ("model.paa_fallback=some", "model.paa_fallback"), ("model.frozen_stages=7", "frozen"),
    ("data.vflip_prob=1.5", "vflip_prob"), ("data.max_train_difficulty=-1", "difficulty"),
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


def _prob_fields() -> list[str]:
    """``data.*_prob`` fields (``flip_prob`` or its per-direction successors)."""
    from dataclasses import fields

    from paa_edu.config import DataConfig
    return [f.name for f in fields(DataConfig) if f.name.endswith("_prob")]


@pytest.mark.parametrize("item, match", [
    # fields whose default is None are checked against their annotation (issue 10, sec. 6)
    ("data.max_size=abc", "data.max_size: expected int or None, got 'abc'"),
    ("data.num_val=abc", "data.num_val: expected int or None"),
    ("data.num_train=1.5", "data.num_train: expected int or None"),
    ("model.backbone_weights=5", "model.backbone_weights: expected str or None, got 5"),
    ("train.grad_clip=True", "train.grad_clip: expected float or None"),
    ("train.lr_steps=(8, 'x')", "expected a tuple of int"),
    # ranges
    ("train.log_every=0", r"train.log_every must be >= 1, got 0"),
    ("data.num_train=0", r"data.num_train must be >= 1, got 0"),
    ("data.num_val=-1", r"data.num_val must be >= 1"),
    ("data.max_size=8", r"data.max_size must be >= 32"),
    ("data.classes=dior", "data.classes must be"),
    ("data.synthetic=huge", "data.synthetic must be"),
    ("train.max_iters=0", "train.max_iters must be >= 1"),
    *[(f"data.{name}={value}", rf"data.{name} must be in \[0, 1\]")
      for name in _prob_fields() for value in (1.5, -0.1)],
])
def test_typed_and_ranged_fields_refuse_bad_values(item, match):
    with pytest.raises(ValueError, match=match):
        apply_overrides(tiny_synthetic(), [item])


def test_optional_fields_accept_none_and_their_type():
    cfg = apply_overrides(tiny_synthetic(), [
        "data.max_size=512", "data.num_val=None", "model.backbone_weights='5.pth'",
        "train.grad_clip=10", "train.lr_steps=9", *[f"data.{n}=1" for n in _prob_fields()]])
    assert cfg.data.max_size == 512 and cfg.data.num_val is None
    assert cfg.model.backbone_weights == "5.pth"
    assert cfg.train.grad_clip == 10.0 and isinstance(cfg.train.grad_clip, float)
    assert cfg.train.lr_steps == (9,)
    assert all(getattr(cfg.data, n) == 1.0 for n in _prob_fields())


def test_config_from_dict_checks_types_too():
    data = tiny_synthetic().to_dict()
    data["data"]["num_val"] = "abc"
    with pytest.raises(ValueError, match="data.num_val: expected int or None"):
        config_from_dict(data)
