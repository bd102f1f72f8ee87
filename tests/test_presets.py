"""The presets: the seed's recipe held row by row against its docstring table, and the rest."""
from __future__ import annotations

import ast
import re
from dataclasses import fields

from paa_edu.presets import full_synthetic, r50_dota_1x, r50_dota_1x_iou, tiny_synthetic

#: Fields that describe where and how a run happens, not the recipe (no seed line for them).
NOT_RECIPE = {"data.root", "data.synthetic", "data.num_train", "data.num_val",
              "data.num_workers", "train.max_iters", "train.seed", "train.device",
              "train.out_dir", "train.log_every", "train.eval_every_epoch", "train.num_threads",
              "train.checkpoint_every", "train.deterministic", "train.snapshot_every",
              "model.iou_weight"}  # iou_weight: unused without the IoU branch
ROW = re.compile(r"^\s*\|\s*((?:model|data|train)\.\w+)\s*\|\s*(.+?)\s*\|\s*(.+?)\s*\|\s*$")


def docstring_table(function) -> dict:
    """``{"model.depth": (50, "atss:7"), ...}`` parsed from a preset's docstring table."""
    rows = {}
    for line in function.__doc__.splitlines():
        match = ROW.match(line)
        if match:
            key, value, source = match.groups()
            assert key not in rows, f"{key} twice in the table"
            rows[key] = (ast.literal_eval(value), source)
    return rows


def preset_value(cfg, key: str):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


def test_seed_preset_docstring_table_holds_every_value():
    table = docstring_table(r50_dota_1x)
    cfg = r50_dota_1x()
    for key, (value, source) in table.items():
        assert preset_value(cfg, key) == value, key
        assert type(preset_value(cfg, key)) is type(value), key
        assert re.search(r"\w+:\d+|no fp16", source), f"{key}: no seed file:line ({source})"
    every = {f"{section}.{f.name}" for section in ("model", "data", "train")
             for f in fields(getattr(cfg, section))}
    assert every - NOT_RECIPE == set(table), "a recipe field without a seed row (or the reverse)"


def test_seed_preset_key_values_against_the_seed_configs():
    # Independent of the docstring: the facts of issue 11 / the seed's two configs.
    cfg = r50_dota_1x()
    m, d, t = cfg.model, cfg.data, cfg.train
    assert (m.backbone_weights, m.frozen_stages, m.norm_eval) == ("IMAGENET1K_V1", 1, True)
    assert (m.relu_before_extra_convs, m.iou_branch, m.paa_fallback) == (False, False, "none")
    assert (m.use_gn, m.octave_base_scale, m.topk, m.reg_covar) == (False, 4.0, 9, 1e-5)
    assert (d.max_train_difficulty, d.filter_empty, d.hflip_prob, d.vflip_prob) == \
        (1, True, 0.5, 0.0)
    assert t.amp is False


def test_iou_preset_is_the_seed_plus_the_iou_branch():
    seed, iou = r50_dota_1x().to_dict(), r50_dota_1x_iou().to_dict()
    table = docstring_table(r50_dota_1x_iou)
    assert set(table) == {"model.iou_branch", "model.iou_weight"}
    for key, (value, _) in table.items():
        assert preset_value(r50_dota_1x_iou(), key) == value
    iou["model"].update(iou_branch=False, iou_weight=seed["model"]["iou_weight"])
    iou["name"], iou["train"]["out_dir"] = seed["name"], seed["train"]["out_dir"]
    assert iou == seed


def test_synthetic_presets_keep_their_behaviour():
    for cfg in (tiny_synthetic(), full_synthetic()):
        m, d = cfg.model, cfg.data
        assert (m.frozen_stages, m.norm_eval, m.relu_before_extra_convs) == (-1, False, True)
        assert (m.paa_fallback, m.iou_branch, m.backbone_weights) == ("best", True, None)
        assert (d.hflip_prob, d.vflip_prob, d.max_train_difficulty, d.filter_empty) == \
            (0.5, 0.5, None, False)
    for function in (tiny_synthetic, full_synthetic):
        assert "r50_dota_1x_iou" in function.__doc__


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
