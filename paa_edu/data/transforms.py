"""Image + rotated-box transforms (mmcv's image functions): resize -> random flips (training
only) -> normalise (or keep uint8 for the model to normalise on the device) -> pad.

Flips, as mmrotate 1.x, in pixel-edge coordinates (``imflip`` maps column [i, i+1) to
[W-i-1, W-i)): horizontal ``cx' = W - cx``, vertical ``cy' = H - cy``, and ``theta' = -theta``
(a mirror turns a clockwise angle anticlockwise), regularised back into the version's range."""
from __future__ import annotations

from dataclasses import dataclass

import mmcv
import numpy as np
import torch
from torch import Tensor

from paa_edu.geometry import DEFAULT_ANGLE_VERSION, regularize_boxes
from paa_edu.model.backbone import IMAGENET_MEAN, IMAGENET_STD, normalize_pixels


@dataclass(frozen=True)
class TransformConfig:
    """Transform settings. ``normalize=False`` keeps uint8 RGB (4x less to send to the GPU);
    the model then normalises on the device with the same formula and the ImageNet mean/std."""
    max_size: int | None = None  # resize so the longer side is this (None: original size)
    hflip_prob: float = 0.5  # probability of a horizontal flip (training only)
    vflip_prob: float = 0.5  # probability of a vertical flip (training only)
    mean: tuple[float, float, float] = IMAGENET_MEAN  # RGB, for (image - mean) / std
    std: tuple[float, float, float] = IMAGENET_STD
    pad_divisor: int = 32  # pad bottom/right so H and W are multiples of this (0: none)
    normalize: bool = True  # (image - mean) / std here, giving float32

    def __post_init__(self) -> None:
        if not self.normalize and (tuple(self.mean), tuple(self.std)) != (IMAGENET_MEAN,
                                                                          IMAGENET_STD):
            raise ValueError("TransformConfig(normalize=False) leaves normalisation to the "
                             "model, which uses the ImageNet mean/std; a custom mean/std "
                             "needs normalize=True")


def flip_boxes(boxes: Tensor, image_size: tuple[int, int], direction: str,
               version: str = DEFAULT_ANGLE_VERSION) -> Tensor:
    """Mirror (M, 5) boxes with an (H, W) image, ``"horizontal"`` or ``"vertical"``."""
    height, width = image_size
    flipped = boxes.clone()  # (M, 5)
    if direction == "horizontal":
        flipped[:, 0] = width - boxes[:, 0]
    else:
        flipped[:, 1] = height - boxes[:, 1]
    flipped[:, 4] = -boxes[:, 4]
    return regularize_boxes(flipped, version)


def resize(image: np.ndarray, boxes: Tensor, max_size: int) -> tuple[np.ndarray, Tensor, float]:
    """Scale the image so its longer side is ``max_size``, and the boxes by the same factor
    (the image size is rounded: boxes may be off by half a pixel at the far border)."""
    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale == 1.0:
        return image, boxes, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # (w, h) for mmcv
    scaled = boxes.clone()  # (M, 5)
    scaled[:, :4] *= scale  # an isotropic scale keeps theta
    return mmcv.imresize(image, size, interpolation="bilinear"), scaled, scale


def apply_transforms(image: np.ndarray, boxes: Tensor, config: TransformConfig, train: bool,
                     version: str = DEFAULT_ANGLE_VERSION) -> tuple[Tensor, Tensor, dict]:
    """Resize, randomly flip (``train`` only; ``torch.rand`` draws), normalise and pad an
    (H, W, 3) uint8 RGB image and its (M, 5) boxes: image (3, H', W') float32 (uint8 without
    ``config.normalize``), boxes (M, 5) float32 and ``img_shape`` (h, w) before padding,
    ``scale_factor`` and ``flips`` (the directions applied)."""
    scale, flips = 1.0, []
    if config.max_size is not None:
        image, boxes, scale = resize(image, boxes, config.max_size)
    if train:
        for direction, prob in (("horizontal", config.hflip_prob),
                                ("vertical", config.vflip_prob)):
            if torch.rand(()).item() < prob:
                boxes = flip_boxes(boxes, image.shape[:2], direction, version)
                image = mmcv.imflip(image, direction=direction)
                flips.append(direction)
    img_shape = image.shape[:2]
    if config.normalize:
        pixels = torch.from_numpy(image.astype(np.float32))  # (H, W, 3), a writable copy
        image = normalize_pixels(pixels, torch.tensor(config.mean),
                                 torch.tensor(config.std)).numpy()
    if config.pad_divisor > 0:
        d = config.pad_divisor
        image = mmcv.impad(image, shape=(-(-img_shape[0] // d) * d, -(-img_shape[1] // d) * d),
                           pad_val=0)
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))  # (3, H', W')
    meta = {"img_shape": tuple(img_shape), "scale_factor": scale, "flips": flips}
    return tensor, boxes.float(), meta
