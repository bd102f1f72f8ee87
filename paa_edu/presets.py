"""The named configs (:data:`PRESETS`): the seed's recipe (its docstring cites each value's
seed file and line; docs/seed_recipe.md explains them), the paper's method on it, synthetic sets.
"""
from __future__ import annotations

from paa_edu.config import Config, DataConfig, ModelConfig, TrainConfig


def r50_dota_1x() -> Config:
    """The seed's rotated PAA, R50-FPN 1x on DOTA-v1.0 patches (1024 px, gap 200), field by field.

    This is the seed's ATSS-initialised row (72.75 AP50 on the DOTA server);
    ``--set model.paa_init=maxiou`` gives its MaxIoU-initialised row (72.50): the two seed configs
    differ only in the head class and the initial assigner. Sources are files of
    Xuyihaoby/rotate_detection at 0ec3efa: ``atss`` = configs/rpaa/rpaa_r50_fpn_atss_v2_1x.py,
    ``vanilla`` = configs/rpaa/rpaa_r50_fpn_vanilla_v2_1x.py, ``rpaa`` =
    mmdet/models/dense_heads/rpaa_head.py (class RPAAHead), ``rretina`` =
    mmdet/models/dense_heads/rretina_head.py, ``fpn`` = mmdet/models/necks/fpn.py, ``dotav1`` /
    ``custom`` = mmdet/datasets/{dotav1,custom}.py, ``rtrans`` =
    mmdet/datasets/pipelines/rtransforms.py. Fields not listed (paths, workers, logging, device)
    are not part of the recipe.

    | field | value | seed source |
    |---|---|---|
    | model.num_classes | 15 | atss:26 |
    | model.depth | 50 | atss:7 |
    | model.backbone_width | 64 | atss:6-7 (torchvision ResNet-50) |
    | model.backbone_weights | "IMAGENET1K_V1" | atss:4 pretrained='torchvision://resnet50' |
    | model.frozen_stages | 1 | atss:10 |
    | model.norm_eval | True | atss:12 |
    | model.fpn_channels | 256 | atss:17, atss:29 |
    | model.relu_before_extra_convs | False | fpn:74 (default), fpn:216-219; atss:14-20 keeps it |
    | model.strides | (8, 16, 32, 64, 128) | atss:38 |
    | model.num_convs | 4 | atss:28 |
    | model.use_gn | False | rretina:19 norm_cfg=None |
    | model.octave_base_scale | 4.0 | atss:33-34 (1 scale, atss:36 1 ratio, atss:39 angle 0) |
    | model.angle_version | "le135" | atss:1 angle_version='v2' |
    | model.assigner | "paa" | atss:22 RPAAHead |
    | model.paa_init | "atss" | atss:55 RATSSAssigner (vanilla:55-61 MaxIoU 0.1/0.1) |
    | model.topk | 9 | atss:25, atss:55 |
    | model.reg_covar | 1e-05 | rpaa:864 |
    | model.paa_fallback | "none" | rpaa:839-840 (< 2 candidates), rpaa:895-898 (empty F) |
    | model.iou_branch | False | rpaa:633, 683-684, 730-733, 1019, 1046-1047 (commented out) |
    | model.reg_weight | 1.0 | atss:52 |
    | model.score_thr | 0.05 | atss:63 |
    | model.nms_pre | 2000 | atss:61 |
    | model.nms_iou | 0.1 | atss:64 |
    | model.max_per_img | 2000 | atss:65 |
    | model.score_voting | False | atss:24 |
    | data.classes | "dota" | dotav1:23 |
    | data.max_size | None | atss:95 RResize (1024, 1024): the identity on 1024 px patches |
    | data.hflip_prob | 0.5 | atss:96 flip_ratio=0.5 |
    | data.vflip_prob | 0.0 | rtrans:123 direction='horizontal' |
    | data.max_train_difficulty | 1 | dotav1:107 |
    | data.filter_empty | True | custom:95-96, dotav1:157-163 |
    | train.epochs | 12 | atss:77 |
    | train.batch_size | 2 | atss:118 |
    | train.lr | 0.0025 | atss:68 |
    | train.momentum | 0.9 | atss:68 |
    | train.weight_decay | 0.0001 | atss:68 |
    | train.warmup_iters | 500 | atss:74 |
    | train.warmup_ratio | 0.001 | atss:75 |
    | train.lr_steps | (8, 11) | atss:76 |
    | train.grad_clip | 35.0 | atss:69 |
    | train.amp | False | atss (no fp16 key anywhere: fp32 training) |
    | train.reduce_num_pos | False | rpaa:700, 721 (num_pos summed on this GPU only) |
    | train.auto_scale_lr | False | atss:68 (lr 0.0025 as written, no auto_scale_lr key) |
    | train.sync_bn | False | atss:11 norm_cfg=dict(type='BN') |
    """
    model = ModelConfig(
        num_classes=15, depth=50, backbone_width=64, backbone_weights="IMAGENET1K_V1",
        frozen_stages=1, norm_eval=True, fpn_channels=256, relu_before_extra_convs=False,
        strides=(8, 16, 32, 64, 128), num_convs=4, use_gn=False, octave_base_scale=4.0,
        angle_version="le135", assigner="paa", paa_init="atss", topk=9, reg_covar=1e-5,
        paa_fallback="none", iou_branch=False, reg_weight=1.0, score_thr=0.05, nms_pre=2000,
        nms_iou=0.1, max_per_img=2000, score_voting=False)
    data = DataConfig(classes="dota", max_size=None, hflip_prob=0.5, vflip_prob=0.0,
                      max_train_difficulty=1, filter_empty=True)
    train = TrainConfig(epochs=12, batch_size=2, lr=0.0025, momentum=0.9, weight_decay=1e-4,
                        warmup_iters=500, warmup_ratio=0.001, lr_steps=(8, 11), grad_clip=35.0,
                        amp=False, reduce_num_pos=False, auto_scale_lr=False, sync_bn=False,
                        out_dir="work_dirs/r50_dota_1x")
    return Config("r50_dota_1x", model, data, train)


def r50_dota_1x_iou() -> Config:
    """The paper's full method on the seed's recipe: :func:`r50_dota_1x` with the IoU-prediction
    branch of Kim & Lee (ECCV 2020) on, as mmdetection's ``PAAHead`` and kkhoot/PAA:

    | field | value | source |
    |---|---|---|
    | model.iou_branch | True | PAA paper Sec. 3.3: a 3x3 conv on the regression tower |
    | model.iou_weight | 0.5 | BCE weight of kkhoot/PAA and mmdetection's PAAHead |

    The test score is ``sqrt(cls * IoU)`` (:mod:`paa_edu.model.postprocess`); ``score_thr``
    applies to that score, as in mmdetection.
    """
    cfg = r50_dota_1x()
    cfg.name, cfg.train.out_dir = "r50_dota_1x_iou", "work_dirs/r50_dota_1x_iou"
    cfg.model.iou_branch, cfg.model.iou_weight = True, 0.5
    return cfg


def tiny_synthetic() -> Config:
    """CPU: a narrow ResNet-18, FPN P3-P5 with 64 channels, 256 px synthetic scenes.

    :func:`r50_dota_1x_iou` scaled down, differing from the seed's recipe by: random init
    (nothing frozen, BatchNorm in training mode), GroupNorm in the towers, ReLU before P7,
    ``paa_fallback="best"``, h and v flips (p = 0.5 each), all objects and images kept, fp32.
    """
    model = ModelConfig(num_classes=7, depth=18, backbone_width=32, fpn_channels=64,
                        strides=(8, 16, 32), num_convs=2, use_gn=True, octave_base_scale=4.0,
                        nms_pre=1000, max_per_img=300)
    data = DataConfig(root="data/synthetic_tiny", synthetic="tiny", classes="synthetic",
                      num_workers=0)
    train = TrainConfig(epochs=10, batch_size=4, lr=0.01, warmup_iters=50, lr_steps=(8,),
                        log_every=10, out_dir="work_dirs/tiny_synthetic", amp=False,
                        num_threads=1)
    return Config("tiny_synthetic", model, data, train)


def tiny_teaching() -> Config:
    """``tiny_synthetic`` as trained for the shipped checkpoints (:mod:`paa_edu.pretrained`).

    Differences: ``backbone_width`` 16, 60 epochs (lr x0.1 after 45 and 55), an assignment
    snapshot every 100 iterations, a log line every iteration.
    """
    cfg = tiny_synthetic()
    cfg.name = "tiny_teaching"
    cfg.model.backbone_width = 16
    cfg.train.epochs, cfg.train.lr_steps = 60, (45, 55)
    cfg.train.snapshot_every, cfg.train.log_every = 100, 1
    cfg.train.out_dir = "work_dirs/tiny_teaching"
    return cfg


def full_synthetic() -> Config:
    """GPU: R50-FPN P3-P7 on the 1024 px synthetic set: :func:`r50_dota_1x_iou`'s schedule with
    :func:`tiny_synthetic`'s model and data rules, in mixed precision on CUDA."""
    model = ModelConfig(num_classes=7, use_gn=True)
    data = DataConfig(root="data/synthetic_full", synthetic="full", classes="synthetic",
                      num_workers=4)
    train = TrainConfig(batch_size=4, lr=0.005, out_dir="work_dirs/full_synthetic")
    return Config("full_synthetic", model, data, train)


def gpu_synthetic() -> Config:
    """GPU smoke run (``scripts/gpu_check.sh``): :func:`full_synthetic`'s model on 160 synthetic
    scenes of 512 px, batch 8, 6 epochs = 120 iterations: does the GPU path work?"""
    model = ModelConfig(num_classes=7, use_gn=True)
    data = DataConfig(root="data/synthetic_gpu", synthetic="gpu", classes="synthetic",
                      num_workers=8)
    train = TrainConfig(epochs=6, batch_size=8, lr=0.01, warmup_iters=50, lr_steps=(5,),
                        log_every=10, out_dir="work_dirs/gpu_synthetic")
    return Config("gpu_synthetic", model, data, train)


PRESETS = {"r50_dota_1x": r50_dota_1x, "r50_dota_1x_iou": r50_dota_1x_iou,
           "tiny_synthetic": tiny_synthetic, "tiny_teaching": tiny_teaching,
           "full_synthetic": full_synthetic, "gpu_synthetic": gpu_synthetic}


def get_config(name: str) -> Config:
    """A fresh copy of the preset ``name`` (one of :data:`PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]()


