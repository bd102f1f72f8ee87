"""ResNet + FPN backbone: an image batch in, one feature map per detection level out.

Layout (RetinaNet / the seed's configs): ResNet stages C3, C4, C5 (strides 8, 16, 32;
``start_level=1`` skips C2), a top-down FPN gives P3-P5, and "extra convs on input" add
P6 = conv3x3/2(C5) and P7 = conv3x3/2(P6) -- or conv3x3/2(relu(P6)) with
``relu_before_extra_convs``. Fewer strides (e.g. 8-32 for 256 px CPU images) stop earlier.

Fine-tuning as mmdetection's ResNet (the seed): ``frozen_stages`` stages get no gradient and
stay in eval mode, and ``norm_eval`` keeps every BatchNorm in eval mode, so the ImageNet
running statistics never change (their affine parameters still train outside frozen stages).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

_STAGE_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def _narrow_resnet(depth: int, width: int) -> nn.Module:
    """A ResNet-18/34 with base width ``width`` instead of 64 (stage widths w, 2w, 4w, 8w)."""
    net = nn.Module()
    net.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
    net.bn1, net.relu = nn.BatchNorm2d(width), nn.ReLU(inplace=True)
    net.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
    inplanes = width
    for i, num_blocks in enumerate(_STAGE_BLOCKS[depth]):
        planes, stride = width * 2 ** i, 1 if i == 0 else 2
        downsample = None
        if stride != 1 or inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes))
        blocks = [BasicBlock(inplanes, planes, stride, downsample)]
        blocks += [BasicBlock(planes, planes) for _ in range(num_blocks - 1)]
        setattr(net, f"layer{i + 1}", nn.Sequential(*blocks))
        inplanes = planes
    return net


def build_resnet(depth: int, width: int = 64, weights: str | None = None) -> nn.Module:
    """A ResNet trunk ``conv1 bn1 relu maxpool layer1..layer4`` (no fc) of depth 18, 34 or 50,
    ``out_channels`` those of (C3, C4, C5). ``width`` < 64 gives a narrow ResNet-18/34;
    ``weights``: None, a torchvision weights name (``"IMAGENET1K_V1"``) or a local .pth file."""
    if depth not in (18, 34, 50):
        raise ValueError(f"depth must be 18, 34 or 50, got {depth}")
    if width == 64:
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        del net.fc, net.avgpool
    elif depth in _STAGE_BLOCKS and width >= 8:
        net = _narrow_resnet(depth, width)
    else:
        raise ValueError(f"width must be 64 (any depth) or >= 8 for depth 18/34, got {width}")
    expansion = 4 if depth == 50 else 1
    net.out_channels = tuple(width * 2 ** i * expansion for i in (1, 2, 3))
    if weights is not None:
        if width != 64 and is_weights_name(depth, str(weights)):
            raise ValueError(f"model.backbone_weights={weights!r}: torchvision's weights are "
                             f"for width 64, not model.backbone_width={width}")
        load_backbone_weights(net, depth, weights)
    return net


class FPN(nn.Module):
    """Feature pyramid on C3-C5 (``in_channels``): ``num_levels`` 1-5 outputs P3, ..., P7 of
    ``out_channels`` (module docstring; the seed: ``relu_before_extra_convs=False``)."""
    def __init__(self, in_channels: tuple[int, int, int], out_channels: int, num_levels: int,
                 relu_before_extra_convs: bool = True):
        super().__init__()
        if not 1 <= num_levels <= 5:
            raise ValueError(f"num_levels must be in [1, 5], got {num_levels}")
        self.num_levels, self.relu_before_extra_convs = num_levels, relu_before_extra_convs
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.output = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                    for _ in in_channels)
        num_extra = max(num_levels - 3, 0)
        extra_in = [in_channels[-1]] + [out_channels] * (num_extra - 1)
        self.extra = nn.ModuleList(nn.Conv2d(c, out_channels, 3, stride=2, padding=1)
                                   for c in extra_in[:num_extra])
        for conv in [*self.lateral, *self.output, *self.extra]:
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        """feats: [C3 (B, c3, H/8, W/8), C4, C5] -> list of num_levels (B, out, H/s, W/s)."""
        laterals = [conv(f) for conv, f in zip(self.lateral, feats)]
        for i in range(len(laterals) - 1, 0, -1):  # top-down: add the upsampled coarser level
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="nearest")
        outs = [conv(x) for conv, x in zip(self.output, laterals)]
        x = feats[-1]  # P6 is computed from C5 (the "on input" variant)
        for i, conv in enumerate(self.extra):
            x = conv(F.relu(x) if i > 0 and self.relu_before_extra_convs else x)
            outs.append(x)
        return outs[:self.num_levels]


class ResNetFPN(nn.Module):
    """ResNet trunk (:func:`build_resnet`) + FPN: ``num_levels`` outputs, strides 8, 16, ... 128.
    ``frozen_stages``: -1 nothing frozen, 0 the stem (conv1, bn1), k the stem and layer1..k."""
    def __init__(self, depth: int = 50, width: int = 64, weights: str | None = None,
                 fpn_channels: int = 256, num_levels: int = 5, frozen_stages: int = -1,
                 norm_eval: bool = False, relu_before_extra_convs: bool = True):
        super().__init__()
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f"frozen_stages must be in [-1, 4], got {frozen_stages}")
        self.body = build_resnet(depth, width, weights)
        self.fpn = FPN(self.body.out_channels, fpn_channels, num_levels,
                       relu_before_extra_convs)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        for module in self.frozen_modules():
            module.requires_grad_(False)
        self.train()

    def frozen_modules(self) -> list[nn.Module]:
        """The ResNet modules of the frozen stages (stem first)."""
        if self.frozen_stages < 0:
            return []
        b = self.body
        return [b.conv1, b.bn1] + [getattr(b, f"layer{i}")
                                   for i in range(1, self.frozen_stages + 1)]

    def train(self, mode: bool = True) -> ResNetFPN:
        """``nn.Module.train``; frozen stages (with ``norm_eval`` all BatchNorms) stay in eval."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        if self.norm_eval:
            for module in self.body.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, images: Tensor) -> list[Tensor]:
        """images (B, 3, H, W) -> list of L feature maps (B, fpn_channels, H/s_l, W/s_l)."""
        b = self.body
        x = b.maxpool(b.relu(b.bn1(b.conv1(images))))  # (B, w, H/4, W/4)
        c3 = b.layer2(b.layer1(x))  # (B, 2w*e, H/8, W/8)
        c4 = b.layer3(c3)  # (B, 4w*e, H/16, W/16)
        c5 = b.layer4(c4)  # (B, 8w*e, H/32, W/32)
        return self.fpn([c3, c4, c5])


def weights_enum(depth: int):
    """torchvision's ``ResNet{depth}_Weights`` enum."""
    return torchvision.models.get_model_weights(f"resnet{depth}")


def is_weights_name(depth: int, name: str) -> bool:
    """True when ``name`` is a member of ``ResNet{depth}_Weights`` (e.g. ``IMAGENET1K_V1``)."""
    return name in weights_enum(depth).__members__


def hub_checkpoint_path(url: str) -> Path:
    """Where torch.hub caches the file of ``url``: ``<hub dir>/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def load_backbone_weights(net: nn.Module, depth: int, weights: str | Path) -> None:
    """Load a torchvision weights name or a local state-dict file into the ResNet ``net``."""
    text = str(weights)
    if is_weights_name(depth, text):
        return _load_state(net, _download(depth, text), f"model.backbone_weights={text!r}")
    path = Path(text).expanduser()
    if not path.is_file():
        if path.suffix or os.sep in text:
            raise FileNotFoundError(f"model.backbone_weights: file not found: {path}")
        names = sorted(weights_enum(depth).__members__)
        raise ValueError(f"model.backbone_weights={text!r} is neither a local file nor a "
                         f"torchvision weights name of ResNet-{depth} ({', '.join(names)})")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    _load_state(net, state, str(path))


def _download(depth: int, name: str) -> dict:
    """The state dict of ``ResNet{depth}_Weights[name]`` via torchvision (hub cache first)."""
    weights = weights_enum(depth)[name]
    cached = hub_checkpoint_path(weights.url)
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except OSError as err:  # URLError, socket errors: no internet
        raise FileNotFoundError(
            f"model.backbone_weights={name!r}: {cached.name} is not in the torch hub cache and "
            f"cannot be downloaded ({type(err).__name__}: {err}); download {weights.url} to "
            f"$TORCH_HOME/hub/checkpoints/{cached.name} (here: {cached}) or pass the file: "
            f"--set model.backbone_weights=/path/to/{cached.name}") from None


def _load_state(net: nn.Module, state: dict, source: str) -> None:
    """Copy the matching keys (no ``fc.*``); warn about missing/unexpected ones."""
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if not set(state) & set(net.state_dict()):
        raise ValueError(f"{source}: no key matches a ResNet (first keys: {list(state)[:3]})")
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        warnings.warn(f"{source}: missing keys {result.missing_keys[:5]}..., unexpected keys "
                      f"{result.unexpected_keys[:5]}...", stacklevel=3)


IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0-255 scale
IMAGENET_STD = (58.395, 57.12, 57.375)


def normalize_pixels(pixels: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``(pixels - mean) / std`` in float32 (float64 when ``mean`` and ``std`` are): one formula
    for the host (:func:`normalize`) and the device (``normalize_images``): the same bits."""
    return (pixels.float() - mean) / std
