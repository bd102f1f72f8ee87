"""Dataclass configs of the detector and its training, plus ``--set key=value`` overrides.

The named presets (``r50_dota_1x``, ``r50_dota_1x_iou``, ``tiny_synthetic``, ``tiny_teaching``,
``full_synthetic``, ``gpu_synthetic``) are in :mod:`paa_edu.presets` and importable from here.

Override any field from the command line with dotted keys, e.g.
``--set train.lr=0.01 --set model.assigner=atss`` (values are parsed as Python literals when
possible, else kept as strings).
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
    """Backbone, FPN, head, anchors, assignment and inference settings.

    Attributes:
        num_classes: C, no background channel.
        depth: ResNet depth (18, 34 or 50).
        backbone_width: base width of the ResNet (64 = torchvision's; smaller = a narrow
            ResNet-18/34 for CPU).
        backbone_weights: ImageNet initialisation of the ResNet: a torchvision weights name
            (``"IMAGENET1K_V1"``, ``"DEFAULT"``; downloaded once into the torch hub cache), a
            local ``.pth`` file with a torchvision ResNet state dict, or ``None`` (random).
        frozen_stages: ResNet stages without gradient, as mmdetection: -1 none, 0 the stem
            (conv1, bn1), k >= 1 the stem and layer1..layerk.
        norm_eval: keep every BatchNorm of the backbone in eval mode while training (running
            statistics never change; the affine parameters of unfrozen stages still train).
        fpn_channels: channels of every FPN level and of the head towers.
        relu_before_extra_convs: P7 = conv(relu(P6)) instead of conv(P6).
        strides: strides of the FPN levels; (8, 16, 32, 64, 128) = P3-P7, (8, 16, 32) = P3-P5.
        num_convs: 3x3 convs per head tower.
        use_gn: GroupNorm (32 groups, or fewer when the channels are few) in the towers.
        octave_base_scale: anchor side = octave_base_scale * stride.
        angle_version: box convention of targets and predictions.
        assigner: ``"maxiou"`` (RetinaNet 0.5/0.4), ``"atss"`` or ``"paa"``.
        paa_init: initial candidates of PAA: ``"maxiou"`` (0.1/0.1) or ``"atss"``.
        topk: per-level candidates of ATSS and of PAA's GMM.
        reg_covar: GMM variance floor.
        paa_fallback: what PAA does for a GT the split leaves without a positive (fewer than
            2 candidates, or an empty low-loss component): ``"none"`` no positive (the seed,
            mmdetection), ``"best"`` its best candidate (ours), ``"all"`` all its candidates
            (the original PAA).
        iou_branch: predict the IoU of each box (PAA) and score sqrt(cls * IoU) at test time.
        reg_weight, iou_weight: weights of the IoU loss and of the IoU-branch BCE.
        score_thr, nms_pre, nms_iou, max_per_img, score_voting: inference (the seed's test_cfg).
    """

    num_classes: int = 15
    depth: int = 50
    backbone_width: int = 64
    backbone_weights: str | None = None
    frozen_stages: int = -1
    norm_eval: bool = False
    fpn_channels: int = 256
    relu_before_extra_convs: bool = True
    strides: tuple[int, ...] = (8, 16, 32, 64, 128)
    num_convs: int = 4
    use_gn: bool = False
    octave_base_scale: float = 4.0
    angle_version: str = "le135"
    assigner: str = "paa"
    paa_init: str = "atss"
    topk: int = 9
    reg_covar: float = 1e-5
    paa_fallback: str = "best"
    iou_branch: bool = True
    reg_weight: float = 1.0
    iou_weight: float = 0.5
    score_thr: float = 0.05
    nms_pre: int = 2000
    nms_iou: float = 0.1
    max_per_img: int = 2000
    score_voting: bool = False


@dataclass
class DataConfig:
    """Where the data is and how it is transformed.

    Attributes:
        root: folder with ``train/`` and ``val/`` (DOTA format); for synthetic presets it is
            written by :func:`paa_edu.data.write_synthetic_dataset` when missing.
        synthetic: ``"tiny"``/``"full"``/``"gpu"`` to generate the synthetic set, ``None`` for
            real data.
        classes: ``"dota"`` or ``"synthetic"``.
        max_size: resize the longer image side to this (``None`` = keep).
        hflip_prob, vflip_prob: horizontal / vertical flip probability during training.
        max_train_difficulty: drop training objects whose difficulty flag is above this
            (0/1 = DOTA's flag, 2 = cut by a patch border; ``None`` keeps all).
        filter_empty: leave training images without (kept) objects out.
        num_train: use only the first N training images (``None`` = all).
        num_val: use only the first N validation images (``None`` = all).
        num_workers: DataLoader workers.
    """

    root: str = "data/dota_split"
    synthetic: str | None = None
    classes: str = "dota"
    max_size: int | None = None
    hflip_prob: float = 0.5
    vflip_prob: float = 0.5
    max_train_difficulty: int | None = None
    filter_empty: bool = False
    num_train: int | None = None
    num_val: int | None = None
    num_workers: int = 2


@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and reproducibility.

    Attributes:
        epochs, batch_size, lr, momentum, weight_decay: SGD (``batch_size`` is per process
            under torchrun: the total batch is processes x batch_size).
        warmup_iters, warmup_ratio: linear warm-up from ``lr * warmup_ratio``.
        lr_steps: epochs after which lr is multiplied by 0.1.
        grad_clip: max global L2 norm of the gradients (``None`` = off).
        max_iters: stop after this many iterations in total (``None`` = all epochs).
        seed: seed of every random generator.
        amp: mixed precision on CUDA.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        out_dir: checkpoints, ``log.csv`` and TensorBoard logs.
        log_every: iterations between log lines.
        eval_every_epoch: evaluate on the validation split after each epoch.
        num_threads: CPU threads of torch (``None`` = torch's default). The tiny preset uses 1:
            on a small shared machine, two OpenMP threads competing with other processes can
            be 10-40x slower than one (measured on the 2-core CI machine).
        checkpoint_every: also write ``last.pth`` every this many iterations inside an epoch
            (0 = at epoch ends only); a resume continues from that position.
        deterministic: on CUDA, deterministic cuDNN and torch algorithms (slower). A resume on
            CUDA is bit-exact only with it; on the CPU a resume is always exact.
        snapshot_every: every N iterations (and after the last), save the assignment of the
            GTs of the first training images under ``out_dir/snapshots`` (0 = off; see
            :mod:`paa_edu.engine.snapshots`).
        auto_scale_lr: under torchrun, multiply ``lr`` by (processes x batch_size) /
            ``BASE_BATCH_SIZE`` (2: the seed's 1 GPU x 2 images), as mmdet's ``auto_scale_lr``.
            Off by default: ``lr`` is used as given, whatever the number of processes.
        reduce_num_pos: normalise the losses by the mean over processes of the positive
            count (and of the IoU-target sum), as the original PAA does. Off by default: each
            process divides by its own counts, as the seed (one GPU) and mmdet's PAAHead.
        sync_bn: under torchrun on CUDA, turn the BatchNorm layers into ``SyncBatchNorm``
            (batch statistics over all processes) where BN trains.
    """

    epochs: int = 12
    batch_size: int = 2
    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 500
    warmup_ratio: float = 0.001
    lr_steps: tuple[int, ...] = (8, 11)
    grad_clip: float | None = 35.0
    max_iters: int | None = None
    seed: int = 0
    amp: bool = True
    device: str = "auto"
    out_dir: str = "work_dirs/custom"
    log_every: int = 20
    eval_every_epoch: bool = False
    num_threads: int | None = None
    checkpoint_every: int = 0
    deterministic: bool = False
    snapshot_every: int = 0
    auto_scale_lr: bool = False
    reduce_num_pos: bool = False
    sync_bn: bool = False


#: The total batch that ``lr`` is meant for with ``train.auto_scale_lr`` (the seed's config
#: rpaa_r50_fpn_atss_v2_1x.py: lr 0.0025 on 1 GPU x samples_per_gpu=2).
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


def _parse_value(text: str):
    """``"0.01"`` -> 0.01, ``"(8, 16)"`` -> (8, 16), ``"None"`` -> None, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """Return a copy of ``cfg`` with ``section.field=value`` overrides applied.

    Args:
        cfg: the base config.
        overrides: strings like ``"train.lr=0.01"`` or ``"model.strides=(8,16,32)"``.
    Returns:
        a new :class:`Config`; ``cfg`` is not modified.
    """
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        target = cfg
        for part in parts[:-1]:
            if not is_dataclass(target) or part not in {f.name for f in fields(target)}:
                raise ValueError(f"--set {key}: unknown section {part!r}")
            target = getattr(target, part)
        name = parts[-1]
        if not is_dataclass(target) or name not in {f.name for f in fields(target)}:
            raise ValueError(f"--set {key}: unknown field {name!r}; valid: "
                             f"{sorted(f.name for f in fields(target))}")
        hint = typing.get_type_hints(type(target))[name]
        setattr(target, name, coerce(_parse_value(text.strip()), hint, f"--set {key}"))
    validate(cfg)
    return cfg


def _check_types(cfg: Config) -> None:
    """Every field against its annotation (:func:`paa_edu.config.coerce`), int -> float."""
    for section in (cfg.model, cfg.data, cfg.train):
        prefix = {ModelConfig: "model", DataConfig: "data", TrainConfig: "train"}[type(section)]
        for name, hint in typing.get_type_hints(type(section)).items():
            value = coerce(getattr(section, name), hint, f"{prefix}.{name}")
            setattr(section, name, value)


def _check_ranges(section, prefix: str, rules: dict) -> None:
    """``rules``: field -> (test, what it must be); ``None`` values pass (optional fields)."""
    for name, (test, must) in rules.items():
        value = getattr(section, name)
        if value is not None and not test(value):
            raise ValueError(f"{prefix}.{name} must be {must}, got {value!r}")


def validate(cfg: Config) -> Config:
    """Raise ``ValueError`` on a wrong type or an inconsistent setting; return ``cfg``."""
    _check_types(cfg)
    m, d, t = cfg.model, cfg.data, cfg.train
    if m.assigner not in ASSIGNERS:
        raise ValueError(f"model.assigner must be one of {ASSIGNERS}, got {m.assigner!r}")
    if m.paa_init not in PAA_INITS:
        raise ValueError(f"model.paa_init must be one of {PAA_INITS}, got {m.paa_init!r}")
    if m.paa_fallback not in PAA_FALLBACKS:
        raise ValueError(f"model.paa_fallback must be one of {PAA_FALLBACKS}, "
                         f"got {m.paa_fallback!r}")
    if not -1 <= m.frozen_stages <= 4:
        raise ValueError(f"model.frozen_stages must be in [-1, 4], got {m.frozen_stages}")
    if m.depth not in (18, 34, 50):
        raise ValueError(f"model.depth must be 18, 34 or 50, got {m.depth}")
    if m.depth == 50 and m.backbone_width != 64:
        raise ValueError("model.backbone_width != 64 is only supported for depth 18/34")
    if not m.strides or any(s not in (8, 16, 32, 64, 128) for s in m.strides) \
            or list(m.strides) != sorted(set(m.strides)) or m.strides[0] != 8:
        raise ValueError(f"model.strides must be increasing powers of two from 8 to 128 "
                         f"starting at 8, got {m.strides}")
    if m.num_classes < 1 or m.fpn_channels < 1 or m.num_convs < 0:
        raise ValueError("model.num_classes, fpn_channels must be >= 1 and num_convs >= 0")
    if t.batch_size < 1 or t.epochs < 1 or t.lr <= 0:
        raise ValueError("train.batch_size, train.epochs must be >= 1 and train.lr > 0")
    if t.num_threads is not None and t.num_threads < 1:
        raise ValueError(f"train.num_threads must be >= 1 or None, got {t.num_threads}")
    if t.snapshot_every < 0:
        raise ValueError(f"train.snapshot_every must be >= 0 (0 = off), got {t.snapshot_every}")
    if t.checkpoint_every < 0:
        raise ValueError(f"train.checkpoint_every must be >= 0 (0 = epoch ends only), "
                         f"got {t.checkpoint_every}")
    if t.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {t.device!r}")
    at_least_1 = (lambda v: v >= 1, ">= 1")
    probability = (lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
    _check_ranges(d, "data", {
        "classes": (lambda v: v in ("dota", "synthetic"), "'dota' or 'synthetic'"),
        "synthetic": (lambda v: v in ("tiny", "full", "gpu"), "'tiny', 'full', 'gpu' or None"),
        "max_size": (lambda v: v >= 32, ">= 32 or None"),
        "num_train": at_least_1, "num_val": at_least_1,
        "num_workers": (lambda v: v >= 0, ">= 0"),
        "max_train_difficulty": (lambda v: v >= 0, ">= 0 or None"),
        **{f.name: probability for f in fields(d) if f.name.endswith("_prob")}})
    _check_ranges(t, "train", {
        "log_every": at_least_1, "max_iters": at_least_1,
        "grad_clip": (lambda v: v > 0, "> 0 or None"),
        "warmup_iters": (lambda v: v >= 0, ">= 0"), "warmup_ratio": probability,
        "momentum": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
        "weight_decay": (lambda v: v >= 0, ">= 0")})
    return cfg


def _upgrade_data_keys(values: dict) -> dict:
    """Checkpoints written before ``hflip_prob``/``vflip_prob`` had one ``flip_prob`` for both."""
    if "flip_prob" in values:
        prob = values.pop("flip_prob")
        values.setdefault("hflip_prob", prob)
        values.setdefault("vflip_prob", prob)
    return values


def config_from_dict(data: dict) -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.to_dict` output (e.g. from a checkpoint)."""
    data = {**data, "data": _upgrade_data_keys(dict(data.get("data", {})))}

    def build(cls, values: dict):
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    return validate(Config(name=data.get("name", "custom"),
                           model=build(ModelConfig, data.get("model", {})),
                           data=build(DataConfig, data.get("data", {})),
                           train=build(TrainConfig, data.get("train", {}))))


def type_name(hint) -> str:
    """``int | None`` -> ``"int or None"``, ``tuple[int, ...]`` -> ``"a tuple of int"``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else type_name(a)
                           for a in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a tuple of {type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def coerce(value, hint, key: str):
    """Check ``value`` against the field's annotation ``hint`` (e.g. ``int | None``).

    int -> float, list -> tuple and a scalar -> 1-tuple are converted; anything else of the
    wrong type raises ``ValueError("<key>: expected <type>, got <value>")``.
    """
    if isinstance(value, list):
        value = tuple(value)
    options = [hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = list(typing.get_args(hint))
    for option in options:
        ok, converted = convert(value, option)
        if ok:
            return converted
    hint_text = " (quote a string: key='\"5\"')" if str in options else ""
    raise ValueError(f"{key}: expected {type_name(hint)}, got {value!r} "
                     f"({type(value).__name__}){hint_text}")


def convert(value, option) -> tuple[bool, object]:
    """(True, value converted to ``option``) or (False, None); bools are never numbers."""
    if option is type(None):
        return value is None, None
    if typing.get_origin(option) is tuple:
        element = typing.get_args(option)[0]
        items = value if isinstance(value, tuple) else (value,)
        converted = [convert(item, element) for item in items]
        return all(ok for ok, _ in converted), tuple(v for _, v in converted)
    if option is float and isinstance(value, int) and not isinstance(value, bool):
        return True, float(value)
    if option in (int, float) and isinstance(value, bool):
        return False, None
    return isinstance(value, option), value


def flatten(values: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become tuples (comparable, hashable)."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """``{"dotted.key": (old value, new value)}`` for every leaf of two nested dicts that
    differs (``None`` stands for a missing key)."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


#: (name, assigner, paa_init) of the four demo runs, baseline first.
VARIANTS = (("maxiou", "maxiou", "maxiou"), ("atss", "atss", "atss"),
            ("paa_maxiou", "paa", "maxiou"), ("paa_atss", "paa", "atss"))
