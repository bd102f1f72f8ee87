"""ResNet + FPN backbone: an image batch in, one feature map per detection level out.

Layout (RetinaNet / the seed's configs): ResNet stages C3, C4, C5 (strides 8, 16, 32;
``start_level=1`` skips C2), a top-down FPN gives P3-P5, and "extra convs on input" add
P6 = conv3x3/2(C5) and P7 = conv3x3/2(relu(P6)). A config with fewer strides (e.g. 8-32 for
256 px CPU images) simply stops earlier.

Nothing is downloaded: ``weights=None`` always, and an optional local file holding a torchvision
ResNet ``state_dict`` is loaded with a report of missing/unexpected keys.
"""
from __future__ import annotations

import warnings
from pathlib import Path

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
    """A ResNet trunk with ``conv1 bn1 relu maxpool layer1..layer4`` (no fc).

    Args:
        depth: 18, 34 or 50.
        width: base width; 64 is torchvision's network, less gives a narrow ResNet-18/34.
        weights: optional path to a local torchvision ResNet state dict (.pth).
    Returns:
        the module; attribute ``out_channels`` = channels of (C3, C4, C5).
    """
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
        load_backbone_weights(net, weights)
    return net


def load_backbone_weights(net: nn.Module, path: str | Path) -> None:
    """Load a local ResNet state dict into ``net``; warn about missing/unexpected keys.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` when no key matches.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if not set(state) & set(net.state_dict()):
        raise ValueError(f"{path}: no key matches a ResNet (first keys: {list(state)[:3]})")
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        warnings.warn(f"{path}: missing keys {result.missing_keys[:5]}..., unexpected keys "
                      f"{result.unexpected_keys[:5]}...", stacklevel=2)


class FPN(nn.Module):
    """Feature pyramid on C3-C5 with extra levels from C5 ("extra convs on input").

    Args:
        in_channels: channels of C3, C4, C5.
        out_channels: channels of every output level.
        num_levels: 1-5 outputs: P3, P4, P5, then P6, P7 from stride-2 convs.
    """

    def __init__(self, in_channels: tuple[int, int, int], out_channels: int, num_levels: int):
        super().__init__()
        if not 1 <= num_levels <= 5:
            raise ValueError(f"num_levels must be in [1, 5], got {num_levels}")
        self.num_levels = num_levels
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
            x = conv(x if i == 0 else F.relu(x))
            outs.append(x)
        return outs[:self.num_levels]


class ResNetFPN(nn.Module):
    """ResNet trunk + FPN.

    Args:
        depth, width, weights: see :func:`build_resnet`.
        fpn_channels: channels of every output level.
        num_levels: number of outputs, strides 8, 16, 32, 64, 128 in that order.
    """

    def __init__(self, depth: int = 50, width: int = 64, weights: str | None = None,
                 fpn_channels: int = 256, num_levels: int = 5):
        super().__init__()
        self.body = build_resnet(depth, width, weights)
        self.fpn = FPN(self.body.out_channels, fpn_channels, num_levels)

    def forward(self, images: Tensor) -> list[Tensor]:
        """images (B, 3, H, W) -> list of L feature maps (B, fpn_channels, H/s_l, W/s_l)."""
        b = self.body
        x = b.maxpool(b.relu(b.bn1(b.conv1(images))))  # (B, w, H/4, W/4)
        c2 = b.layer1(x)
        c3 = b.layer2(c2)  # (B, 2w*e, H/8, W/8)
        c4 = b.layer3(c3)  # (B, 4w*e, H/16, W/16)
        c5 = b.layer4(c4)  # (B, 8w*e, H/32, W/32)
        return self.fpn([c3, c4, c5])
