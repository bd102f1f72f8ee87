"""The input checks of the public geometry functions (internal callers skip them)."""
from __future__ import annotations

import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """A tensor holds NaN or Inf; in training this means divergence, reported by the training
    step as ``non-finite loss at epoch E iter I (term: name)``. ``name`` names the tensor."""
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def check_boxes(boxes: Tensor, name: str = "boxes", allow_empty: bool = True) -> Tensor:
    """Return ``boxes`` if it is a finite float (..., 5) tensor with w, h >= 0; otherwise raise
    a ``ValueError`` (``TypeError`` for a non-tensor) that names it."""
    check_float_rows(boxes, name, 5, "cx, cy, w, h, theta")
    if boxes.numel() == 0:
        if not allow_empty:
            raise ValueError(f"{name} is empty")
        return boxes
    negative = (boxes[..., 2:4] < 0).any(-1)
    if bool(negative.any()):
        bad = int(negative.flatten().nonzero()[0])
        raise ValueError(f"{name} has a negative width or height (first at flat row {bad}: "
                         f"{boxes.reshape(-1, 5)[bad].tolist()})")
    return boxes


def check_float_rows(values: Tensor, name: str, size: int, layout: str) -> Tensor:
    """Raise unless ``values`` is a finite float (..., size) tensor; ``layout`` names the
    columns in the message, e.g. ``"x1, y1, ..., x4, y4"``."""
    if not isinstance(values, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., {size}), "
                        f"got {type(values)}")
    if values.dim() == 0 or values.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}) = {layout}; "
                         f"got {tuple(values.shape)}")
    if not values.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got {values.dtype}")
    finite = torch.isfinite(values).all(-1).flatten()
    if values.numel() and not bool(finite.all()):
        bad = int((~finite).nonzero()[0])
        raise NonFiniteError(name, f"{name} contains NaN or Inf (first at flat row {bad})")
    return values
