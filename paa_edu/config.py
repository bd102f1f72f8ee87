"""Dataclass configs of the detector and its training (presets: :mod:`paa_edu.presets`), and
``--set key=value`` overrides, e.g. ``--set train.lr=0.01 --set model.assigner=atss``: values
are parsed as Python literals when possible, else kept as strings, then checked by type.
"""
from __future__ import annotations

import ast
import copy
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass

from paa_edu.assigners.paa import ASSIGNERS, PAA_FALLBACKS, PAA_INITS


@dataclass
class ModelConfig:
    """Backbone, FPN, head, anchors, assignment and inference settings."""
    num_classes: int = 15  # C, no background channel
    depth: int = 50  # ResNet depth: 18, 34 or 50
    backbone_width: int = 64  # base width of the ResNet (64 = torchvision's; less: for CPU)
    # ImageNet init: torchvision weights name ("IMAGENET1K_V1"), .pth ResNet state dict, or None
    backbone_weights: str | None = None
    frozen_stages: int = -1  # stages without gradient: -1 none, 0 the stem, k stem + layer1..k
    norm_eval: bool = False  # backbone BatchNorm statistics fixed (affine params still train)
    fpn_channels: int = 256  # channels of every FPN level and of the head towers
    relu_before_extra_convs: bool = True  # P7 = conv(relu(P6)) instead of conv(P6)
    strides: tuple[int, ...] = (8, 16, 32, 64, 128)  # P3-P7; (8, 16, 32) = P3-P5
    num_convs: int = 4  # 3x3 convs per head tower
    use_gn: bool = False  # GroupNorm (32 groups, fewer when the channels are few) in the towers
    octave_base_scale: float = 4.0  # anchor side = octave_base_scale * stride
    angle_version: str = "le135"  # box convention of targets and predictions
    assigner: str = "paa"  # "maxiou" (RetinaNet 0.5/0.4), "atss" or "paa"
    paa_init: str = "atss"  # initial candidates of PAA: "maxiou" (0.1/0.1) or "atss"
    topk: int = 9  # per-level candidates of ATSS and of PAA's GMM
    reg_covar: float = 1e-5  # GMM variance floor
    paa_fallback: str = "best"  # PAA step 3: "none" (seed, mmdet), "best" (ours), "all" (PAA)
    iou_branch: bool = True  # predict each box's IoU (PAA); test score sqrt(cls * IoU)
    reg_weight: float = 1.0  # weight of the IoU loss
    iou_weight: float = 0.5  # weight of the IoU-branch BCE
    # inference, as the seed's test_cfg
    score_thr: float = 0.05
    nms_pre: int = 2000
    nms_iou: float = 0.1
    max_per_img: int = 2000
    score_voting: bool = False


@dataclass
class DataConfig:
    """Where the data is and how it is transformed."""
    root: str = "data/dota_split"  # holds train/ and val/ (DOTA format; synthetic: written)
    synthetic: str | None = None  # "tiny"/"full"/"gpu": generate the synthetic set; None: real
    classes: str = "dota"  # "dota" or "synthetic"
    max_size: int | None = None  # resize the longer image side to this (None = keep)
    hflip_prob: float = 0.5  # training flip probabilities
    vflip_prob: float = 0.5
    # drop training objects of a higher difficulty (0/1 DOTA's flag, 2 cut by a patch border)
    max_train_difficulty: int | None = None
    filter_empty: bool = False  # leave training images without (kept) objects out
    num_train: int | None = None  # use only the first N train / val images (None = all)
    num_val: int | None = None
    num_workers: int = 2  # DataLoader workers


@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and reproducibility."""
    epochs: int = 12
    batch_size: int = 2  # SGD's, per process under torchrun (total: processes x batch_size)
    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 500  # linear warm-up from lr * warmup_ratio
    warmup_ratio: float = 0.001
    lr_steps: tuple[int, ...] = (8, 11)  # epochs after which lr is multiplied by 0.1
    grad_clip: float | None = 35.0  # max global L2 norm of the gradients (None = off)
    max_iters: int | None = None  # stop after this many iterations in total (None = all epochs)
    seed: int = 0
    amp: bool = True  # mixed precision on CUDA
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
    out_dir: str = "work_dirs/custom"  # checkpoints, log.csv and TensorBoard logs
    log_every: int = 20  # iterations between log lines
    eval_every_epoch: bool = False  # evaluate on the validation split after each epoch
    num_threads: int | None = None  # CPU threads of torch (None = torch's default)
    checkpoint_every: int = 0  # also write last.pth every N iterations (0 = at epoch ends)
    deterministic: bool = False  # deterministic CUDA algorithms (slower): bit-exact CUDA resume
    # save the assignment of the first training images every N iters (paa_edu.engine.snapshots)
    snapshot_every: int = 0
    # under torchrun, lr *= (processes x batch_size) / BASE_BATCH_SIZE (mmdet's auto_scale_lr)
    auto_scale_lr: bool = False
    # loss normalisers averaged over processes (original PAA); off: each process's own (seed)
    reduce_num_pos: bool = False
    sync_bn: bool = False  # under torchrun on CUDA, training BatchNorms -> SyncBatchNorm


#: The total batch ``lr`` is for with ``train.auto_scale_lr`` (seed: 1 GPU x samples_per_gpu=2).
BASE_BATCH_SIZE = 2


@dataclass
class Config:
    """Everything one run needs."""
    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """A plain nested dict (for checkpoints and logs)."""
        return asdict(self)


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """A validated copy of ``cfg`` with overrides like ``"train.lr=0.01"`` or
    ``"model.strides=(8,16,32)"`` applied (``cfg`` is not modified)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        *sections, name = key.strip().split(".")
        target = cfg
        for part in sections:
            if not is_dataclass(target) or part not in {f.name for f in fields(target)}:
                raise ValueError(f"--set {key}: unknown section {part!r}")
            target = getattr(target, part)
        if not is_dataclass(target) or name not in {f.name for f in fields(target)}:
            raise ValueError(f"--set {key}: unknown field {name!r}; valid: "
                             f"{sorted(f.name for f in fields(target))}")
        try:
            value = ast.literal_eval(text.strip())  # "0.01" -> 0.01, "(8, 16)" -> (8, 16)
        except (ValueError, SyntaxError):
            value = text.strip()  # a plain word stays a string
        hint = typing.get_type_hints(type(target))[name]
        setattr(target, name, coerce(value, hint, f"--set {key}"))
    return validate(cfg)


def config_from_dict(data: dict) -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.to_dict` output (e.g. from a checkpoint); an
    old ``data.flip_prob`` (teaching checkpoints) sets ``hflip_prob`` and ``vflip_prob``."""
    sections = {}
    for name, cls in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
        values = dict(data.get(name, {}))
        if "flip_prob" in values and cls is DataConfig:
            prob = values.pop("flip_prob")
            values.setdefault("hflip_prob", prob)
            values.setdefault("vflip_prob", prob)
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}")
        sections[name] = cls(**values)
    return validate(Config(name=data.get("name", "custom"), **sections))


# ---- validation: each section's types, then its ranges ---------------------------------------
AT_LEAST_0 = (lambda v: v >= 0, ">= 0")
AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
PROBABILITY = (lambda v: 0.0 <= v <= 1.0, "in [0, 1]")

#: Per section, field -> (test, what the value must be); ``None`` passes (optional fields).
RANGES = {
    "model": {
        "assigner": (lambda v: v in ASSIGNERS, f"one of {ASSIGNERS}"),
        "paa_init": (lambda v: v in PAA_INITS, f"one of {PAA_INITS}"),
        "paa_fallback": (lambda v: v in PAA_FALLBACKS, f"one of {PAA_FALLBACKS}"),
        "frozen_stages": (lambda v: -1 <= v <= 4, "in [-1, 4]"),
        "depth": (lambda v: v in (18, 34, 50), "18, 34 or 50"),
        "strides": (lambda v: v[:1] == (8,) and list(v) == sorted(set(v))
                    and set(v) <= {8, 16, 32, 64, 128},
                    "increasing powers of two from 8 to 128 starting at 8"),
        "num_classes": AT_LEAST_1, "fpn_channels": AT_LEAST_1, "num_convs": AT_LEAST_0},
    "data": {
        "classes": (lambda v: v in ("dota", "synthetic"), "'dota' or 'synthetic'"),
        "synthetic": (lambda v: v in ("tiny", "full", "gpu"), "'tiny', 'full', 'gpu' or None"),
        "max_size": (lambda v: v >= 32, ">= 32 or None"),
        "num_train": AT_LEAST_1, "num_val": AT_LEAST_1, "num_workers": AT_LEAST_0,
        "max_train_difficulty": (lambda v: v >= 0, ">= 0 or None"),
        "hflip_prob": PROBABILITY, "vflip_prob": PROBABILITY},
    "train": {
        "epochs": AT_LEAST_1, "batch_size": AT_LEAST_1, "lr": (lambda v: v > 0, "> 0"),
        "log_every": AT_LEAST_1, "max_iters": AT_LEAST_1,
        "num_threads": (lambda v: v >= 1, ">= 1 or None"),
        "snapshot_every": (lambda v: v >= 0, ">= 0 (0 = off)"),
        "checkpoint_every": (lambda v: v >= 0, ">= 0 (0 = epoch ends only)"),
        "device": (lambda v: v in ("auto", "cpu", "cuda"), "auto, cpu or cuda"),
        "grad_clip": (lambda v: v > 0, "> 0 or None"),
        "warmup_iters": AT_LEAST_0, "warmup_ratio": PROBABILITY,
        "momentum": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"), "weight_decay": AT_LEAST_0},
}


def validate(cfg: Config) -> Config:
    """Raise ``ValueError`` on a wrong type or an inconsistent setting; return ``cfg``."""
    for prefix, rules in RANGES.items():
        section = getattr(cfg, prefix)
        for name, hint in typing.get_type_hints(type(section)).items():
            setattr(section, name, coerce(getattr(section, name), hint, f"{prefix}.{name}"))
        for name, (test, must) in rules.items():
            value = getattr(section, name)
            if value is not None and not test(value):
                raise ValueError(f"{prefix}.{name} must be {must}, got {value!r}")
    if cfg.model.depth == 50 and cfg.model.backbone_width != 64:
        raise ValueError("model.backbone_width != 64 is only supported for depth 18/34")
    return cfg


# ---- types: a value against its field's annotation -------------------------------------------
def coerce(value, hint, key: str):
    """``value`` checked against a field's annotation ``hint`` (e.g. ``int | None``), converting
    int -> float, list -> tuple, scalar -> 1-tuple; else ``ValueError`` naming ``key``."""
    if isinstance(value, list):
        value = tuple(value)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    for option in options:
        ok, converted = _convert(value, option)
        if ok:
            return converted
    quote = " (quote a string: key='\"5\"')" if str in options else ""
    raise ValueError(f"{key}: expected {_type_name(hint)}, got {value!r} "
                     f"({type(value).__name__}){quote}")


def _convert(value, option) -> tuple[bool, object]:
    """(True, value converted to ``option``) or (False, None); bools are never numbers."""
    if option is type(None):
        return value is None, None
    if typing.get_origin(option) is tuple:
        element = typing.get_args(option)[0]
        converted = [_convert(item, element) for item in
                     (value if isinstance(value, tuple) else (value,))]
        return all(ok for ok, _ in converted), tuple(v for _, v in converted)
    if option is float and isinstance(value, int) and not isinstance(value, bool):
        return True, float(value)
    if option in (int, float) and isinstance(value, bool):
        return False, None
    return isinstance(value, option), value


def _type_name(hint) -> str:
    """``int | None`` -> ``"int or None"``, ``tuple[int, ...]`` -> ``"a tuple of int"``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a)
                           for a in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a tuple of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """``{"dotted.key": (old value, new value)}`` for every leaf of two nested dicts that
    differs (``None`` stands for a missing key; lists compare as tuples)."""
    def leaves(values: dict, prefix: str = ""):  # {"a": {"b": [1]}} -> ("a.b", (1,))
        for key, value in values.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield prefix + key, tuple(value) if isinstance(value, list) else value

    a, b = dict(leaves(old)), dict(leaves(new))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


#: (name, assigner, paa_init) of the four demo runs, baseline first.
VARIANTS = (("maxiou", "maxiou", "maxiou"), ("atss", "atss", "atss"),
            ("paa_maxiou", "paa", "maxiou"), ("paa_atss", "paa", "atss"))
