"""ImageNet initialisation of the ResNet trunk: a torchvision weights name or a local file.

``model.backbone_weights`` is one of

- a torchvision weights name of ``ResNet{depth}_Weights`` (``"IMAGENET1K_V1"``, ``"DEFAULT"``;
  ``"IMAGENET1K_V2"`` for ResNet-50): torchvision's own weights API downloads the file once
  into the torch hub cache, ``$TORCH_HOME/hub/checkpoints/`` (``~/.cache/torch/hub`` by
  default), and reads it from there afterwards. The seed's ``torchvision://resnet50`` is
  torchvision's classic ResNet-50 recipe, today's ``IMAGENET1K_V1``; note that ``"DEFAULT"``
  is ``IMAGENET1K_V2`` for ResNet-50, a different, later recipe;
- a path to a local ``.pth`` holding a torchvision ResNet state dict (``fc.*`` keys are
  ignored; a ``{"state_dict": ...}`` wrapper is unwrapped);
- ``None``: random initialisation.

Only the ImageNet file is needed, and only to build a model for training: a paa_edu checkpoint
holds the whole model, so evaluation, prediction and ``--resume`` never read it again.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn


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
    """Load a torchvision weights name or a local state-dict file into the ResNet ``net``.

    Raises:
        FileNotFoundError: a local file that does not exist, or a weights name whose file is
            not cached and cannot be downloaded (the message says which file goes where).
        ValueError: a string that is neither, or a file in which no key matches a ResNet.
    """
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
