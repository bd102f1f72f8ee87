"""paa_edu: Probabilistic Anchor Assignment (PAA) with IoU prediction, for rotated boxes.

Shape legend used in every docstring and comment of the package:

- ``B`` images in a batch, ``L`` FPN levels, ``C`` object classes (no background channel),
- ``G`` ground-truth boxes of one image, ``A`` anchors of one image (levels concatenated,
  level-major, one anchor per location), ``K`` candidates per ground truth,
- any ``(..., 5)`` tensor is a rotated box ``(cx, cy, w, h, theta)`` in pixels and radians, in
  image coordinates (x right, y down); a positive ``theta`` turns the box clockwise on screen,
  exactly as in mmcv/mmrotate (see :mod:`paa_edu.geometry`),
- any ``(..., 8)`` tensor is a polygon ``(x1, y1, ..., x4, y4)``.
"""
from paa_edu.engine.rng import set_seed
from paa_edu.notebook import interactive, notebook_setup, save_figure

__version__ = "0.1.0"
__all__ = ["set_seed", "notebook_setup", "save_figure", "interactive", "__version__"]
