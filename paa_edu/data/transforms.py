"""Image + rotated-box transforms, built on mmcv's image functions.

Order used by :func:`apply_transforms`: resize -> random flips (training only) -> normalise (or
not: ``normalize=False`` keeps uint8 for the model to normalise on the device) ->
pad to a multiple of 32. Images are HWC uint8 RGB numpy arrays until the last step.

Flips (as mmrotate 1.x ``RotatedBoxes.flip_``, with continuous pixel-edge coordinates: mmcv's
``imflip`` maps pixel column i to W - 1 - i, i.e. the interval [i, i+1) to [W-i-1, W-i)):

* horizontal: ``cx' = W - cx``, ``theta' = -theta``;
* vertical:   ``cy' = H - cy``, ``theta' = -theta``;

then :func:`paa_edu.geometry.regularize_boxes` puts ``theta'`` back into the angle version's
range (a mirror turns a clockwise angle into an anticlockwise one, so the sign flips).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mmcv
import numpy as np
import torch
from torch import Tensor

from paa_edu.geometry import DEFAULT_ANGLE_VERSION, check_boxes, regularize_boxes
from paa_edu.model.backbone import IMAGENET_MEAN, IMAGENET_STD, normalize_pixels

FLIP_DIRECTIONS = ("horizontal", "vertical")


@dataclass(frozen=True)
class TransformConfig:
    """Transform settings.

    Attributes:
        max_size: resize (keeping the aspect ratio) so the longer side equals this; ``None``
            keeps the original size.
        hflip_prob: probability of a horizontal flip (training only).
        vflip_prob: probability of a vertical flip (training only).
        mean: per-channel RGB mean subtracted by ``normalize``.
        std: per-channel RGB std divided by ``normalize``.
        pad_divisor: pad the bottom/right so H and W are multiples of this (0 = no padding).
        normalize: ``(image - mean) / std`` here, giving float32. False keeps uint8 RGB (4x
            less to send from DataLoader workers and to the GPU); the model then normalises
            on the device with the same formula (``RotatedPAADetector.normalize_images``,
            ImageNet mean/std).
    """

    max_size: int | None = None
    hflip_prob: float = 0.5
    vflip_prob: float = 0.5
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pad_divisor: int = 32
    normalize: bool = True

    def __post_init__(self) -> None:
        if not self.normalize and (tuple(self.mean), tuple(self.std)) != (IMAGENET_MEAN,
                                                                          IMAGENET_STD):
            raise ValueError("TransformConfig(normalize=False) leaves normalisation to the "
                             "model, which uses the ImageNet mean/std; a custom mean/std "
                             "needs normalize=True")


def flip_boxes(boxes: Tensor, image_size: tuple[int, int], direction: str,
               version: str = DEFAULT_ANGLE_VERSION) -> Tensor:
    """Mirror rotated boxes with the image.

    Args:
        boxes: (M, 5) boxes in pixel coordinates.
        image_size: (H, W) of the image being flipped.
        direction: ``"horizontal"`` or ``"vertical"``.
        version: angle version of the result.
    Returns:
        (M, 5) flipped boxes, regularised to ``version``.
    """
    check_boxes(boxes, "boxes")
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f"direction must be one of {FLIP_DIRECTIONS}, got {direction!r}")
    height, width = image_size
    flipped = boxes.clone()  # (M, 5)
    if direction == "horizontal":
        flipped[:, 0] = width - boxes[:, 0]
    else:
        flipped[:, 1] = height - boxes[:, 1]
    flipped[:, 4] = -boxes[:, 4]
    return regularize_boxes(flipped, version)


def flip(image: np.ndarray, boxes: Tensor, direction: str,
         version: str = DEFAULT_ANGLE_VERSION) -> tuple[np.ndarray, Tensor]:
    """Flip an (H, W, 3) image and its (M, 5) boxes; returns both."""
    flipped_boxes = flip_boxes(boxes, image.shape[:2], direction, version)
    return mmcv.imflip(image, direction=direction), flipped_boxes


def resize(image: np.ndarray, boxes: Tensor, max_size: int) -> tuple[np.ndarray, Tensor, float]:
    """Scale the image so its longer side is ``max_size`` and scale the boxes alike.

    The new size is rounded to whole pixels, so the boxes (scaled by the exact factor) may be
    off by at most half a pixel at the far border.

    Returns:
        resized (h, w, 3) image, (M, 5) boxes, the scale factor.
    """
    if max_size <= 0:
        raise ValueError(f"max_size must be positive, got {max_size}")
    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale == 1.0:
        return image, boxes, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # (w, h) for mmcv
    scaled = boxes.clone()  # (M, 5)
    scaled[:, :4] *= scale  # an isotropic scale keeps theta
    return mmcv.imresize(image, size, interpolation="bilinear"), scaled, scale


def normalize(image: np.ndarray, mean: tuple[float, ...] = IMAGENET_MEAN,
              std: tuple[float, ...] = IMAGENET_STD) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 3) float32 ``(image - mean) / std``."""
    pixels = torch.from_numpy(image.astype(np.float32))  # (H, W, 3), a writable copy
    return normalize_pixels(pixels, torch.tensor(mean), torch.tensor(std)).numpy()


def pad_to_multiple(image: np.ndarray, divisor: int = 32) -> np.ndarray:
    """Zero-pad the bottom/right of an (H, W, C) image to multiples of ``divisor``."""
    if divisor <= 0:
        return image
    height, width = image.shape[:2]
    shape = (math.ceil(height / divisor) * divisor, math.ceil(width / divisor) * divisor)
    return mmcv.impad(image, shape=shape, pad_val=0)


def apply_transforms(image: np.ndarray, boxes: Tensor, config: TransformConfig, train: bool,
                     version: str = DEFAULT_ANGLE_VERSION) -> tuple[Tensor, Tensor, dict]:
    """Resize, randomly flip (``train`` only), normalise and pad one sample.

    Random draws use ``torch.rand`` so :func:`paa_edu.set_seed` and DataLoader worker seeding
    make them reproducible.

    Args:
        image: (H, W, 3) uint8 RGB.
        boxes: (M, 5) boxes in ``version``.
        config: the settings.
        train: apply the random flips.
        version: angle version of the boxes.
    Returns:
        image (3, H', W') float32 (uint8 without ``config.normalize``), boxes (M, 5) float32,
        and a dict with ``img_shape``
        (h, w) before padding, ``scale_factor`` and ``flips`` (list of directions applied).
    """
    scale, flips = 1.0, []
    if config.max_size is not None:
        image, boxes, scale = resize(image, boxes, config.max_size)
    if train:
        for direction, prob in (("horizontal", config.hflip_prob),
                                ("vertical", config.vflip_prob)):
            if torch.rand(()).item() < prob:
                image, boxes = flip(image, boxes, direction, version)
                flips.append(direction)
    img_shape = image.shape[:2]
    if config.normalize:
        image = normalize(image, config.mean, config.std)
    image = pad_to_multiple(image, config.pad_divisor)
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))  # (3, H', W')
    meta = {"img_shape": tuple(img_shape), "scale_factor": scale, "flips": flips}
    return tensor, boxes.float(), meta
