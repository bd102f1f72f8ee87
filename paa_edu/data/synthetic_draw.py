"""Shape templates of the synthetic classes, drawn with PIL in each object's local frame.

A template is a list of polygons in local coordinates ``(a, b)`` in [-1, 1]^2: ``a`` along the
box's ``w`` side (bow/nose at a = +1), ``b`` along its ``h`` side. :class:`Frame` maps them with
the box's corner vectors from :func:`paa_edu.geometry.obb2poly`: drawing matches label."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL.ImageDraw import ImageDraw

Colour = tuple[int, int, int]
Rng = np.random.Generator


@dataclass
class Frame:
    """Local frame of a rotated box: ``point = center + a * eu + b * ev``."""
    center: np.ndarray  # (2,) box centre
    eu: np.ndarray  # (2,) half of the ``w`` side (corner 1 -> corner 2, divided by 2)
    ev: np.ndarray  # (2,) half of the ``h`` side (corner 1 -> corner 4, divided by 2)

    def to_image(self, local: np.ndarray) -> np.ndarray:
        local = np.asarray(local, dtype=np.float64).reshape(-1, 2)
        return self.center + local[:, :1] * self.eu + local[:, 1:] * self.ev

    @property
    def length(self) -> float:
        return 2 * float(np.hypot(*self.eu))


def _fill(draw: ImageDraw, frame: Frame, local: list, colour: Colour,
          shift: tuple[float, float] = (0.0, 0.0)) -> None:
    points = frame.to_image(np.array(local)) + np.array(shift)
    draw.polygon([tuple(p) for p in points.tolist()], fill=colour)


def _jitter(rng: Rng, colour: Colour, amount: int = 12) -> Colour:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def _pick(rng: Rng, colours: list[Colour]) -> Colour:
    return _jitter(rng, colours[int(rng.integers(len(colours)))])


def _shadow(frame: Frame) -> tuple[float, float]:
    """Sun from the top left: shadows fall a little to the bottom right."""
    offset = max(1.0, 0.06 * frame.length)
    return offset, offset


RECT = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
SHADOW = (35, 38, 32)


def draw_plane(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Cross shape: fuselage along a, swept wings spanning b, tail plane."""
    body = _pick(rng, [(225, 225, 225), (200, 200, 205), (235, 230, 220)])
    fuselage = [(-1, -0.09), (0.82, -0.09), (1, 0), (0.82, 0.09), (-1, 0.09)]
    wings = [(0.25, 0), (-0.2, -1), (-0.42, -1), (-0.12, 0), (-0.42, 1), (-0.2, 1)]
    tail = [(-0.72, 0), (-0.93, -0.38), (-1, -0.38), (-0.97, 0), (-1, 0.38), (-0.93, 0.38)]
    for part in (fuselage, wings, tail):
        _fill(draw, frame, part, SHADOW, _shadow(frame))
    for part in (wings, tail, fuselage):
        _fill(draw, frame, part, body)


def draw_ship(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Elongated hull with a pointed bow at a = +1, deck and bridge superstructure."""
    hull = _pick(rng, [(210, 210, 210), (150, 60, 50), (90, 90, 95), (200, 190, 160)])
    _fill(draw, frame, [(-1, -0.85), (0.55, -1), (1, 0), (0.55, 1), (-1, 0.85)], hull)
    deck = _jitter(rng, tuple(int(c * 0.8) for c in hull))
    _fill(draw, frame, [(-0.9, -0.6), (0.5, -0.7), (0.85, 0), (0.5, 0.7), (-0.9, 0.6)], deck)
    _fill(draw, frame, [(-0.8, -0.55), (-0.5, -0.55), (-0.5, 0.55), (-0.8, 0.55)],
          _pick(rng, [(240, 240, 240), (180, 180, 180)]))


def draw_storage_tank(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Round tank (the box is an axis-aligned square): shadow, wall, lighter roof."""
    cx, cy = frame.center
    r = frame.length / 2
    dx, dy = _shadow(frame)
    draw.ellipse([cx - r + dx, cy - r + dy, cx + r + dx, cy + r + dy], fill=SHADOW)
    wall = _pick(rng, [(200, 200, 195), (170, 170, 165), (215, 210, 200)])
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=wall)
    inner = 0.8 * r
    roof = _jitter(rng, tuple(min(255, c + 25) for c in wall))
    draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=roof)


def draw_small_vehicle(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Car seen from above: rounded body, dark windscreen and rear window."""
    body = _pick(rng, [(230, 230, 230), (30, 30, 35), (150, 150, 155), (170, 30, 30),
                       (40, 60, 140), (200, 180, 60)])
    _fill(draw, frame, [(-1, -0.8), (0.85, -0.85), (1, -0.5), (1, 0.5), (0.85, 0.85),
                        (-1, 0.8)], body)
    glass = (25, 30, 40)
    _fill(draw, frame, [(0.15, -0.7), (0.45, -0.75), (0.45, 0.75), (0.15, 0.7)], glass)
    _fill(draw, frame, [(-0.75, -0.65), (-0.55, -0.65), (-0.55, 0.65), (-0.75, 0.65)], glass)


def draw_large_vehicle(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Truck: cab at the front (a = +1) and a long trailer."""
    _fill(draw, frame, RECT, SHADOW, _shadow(frame))
    trailer = _pick(rng, [(220, 220, 215), (150, 155, 160), (60, 90, 150), (180, 70, 40)])
    _fill(draw, frame, [(-1, -1), (0.68, -1), (0.68, 1), (-1, 1)], trailer)
    cab = _pick(rng, [(200, 40, 40), (240, 240, 240), (40, 40, 45), (40, 100, 60)])
    _fill(draw, frame, [(0.74, -0.9), (1, -0.8), (1, 0.8), (0.74, 0.9)], cab)


def _line(draw: ImageDraw, frame: Frame, a0: float, b0: float, a1: float,
          b1: float, colour: Colour) -> None:
    points = frame.to_image(np.array([(a0, b0), (a1, b1)]))
    draw.line([tuple(p) for p in points.tolist()], fill=colour, width=1)


def draw_tennis_court(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Surround, playing area and white markings (outline, net, service lines)."""
    surround, court = [((70, 120, 70), (40, 100, 60)), ((170, 90, 60), (190, 110, 70)),
                       ((60, 90, 150), (40, 120, 90))][int(rng.integers(3))]
    _fill(draw, frame, RECT, _jitter(rng, surround))
    _fill(draw, frame, [(-0.82, -0.72), (0.82, -0.72), (0.82, 0.72), (-0.82, 0.72)],
          _jitter(rng, court))
    white = (240, 240, 240)
    for a0, b0, a1, b1 in [(-0.82, -0.72, 0.82, -0.72), (-0.82, 0.72, 0.82, 0.72),
                           (-0.82, -0.72, -0.82, 0.72), (0.82, -0.72, 0.82, 0.72),
                           (0, -0.8, 0, 0.8), (-0.45, -0.55, -0.45, 0.55),
                           (0.45, -0.55, 0.45, 0.55), (-0.45, 0, 0.45, 0),
                           (-0.82, -0.55, 0.82, -0.55), (-0.82, 0.55, 0.82, 0.55)]:
        _line(draw, frame, a0, b0, a1, b1, white)


def draw_swimming_pool(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Light rim around a bright blue basin."""
    _fill(draw, frame, RECT, _pick(rng, [(225, 220, 205), (200, 200, 200)]))
    water = _pick(rng, [(40, 170, 220), (60, 190, 210), (30, 140, 200)])
    _fill(draw, frame, [(-0.85, -0.75), (0.85, -0.75), (0.85, 0.75), (-0.85, 0.75)], water)


def draw_building(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Unlabelled distractor: a roof with a ridge line and a shadow."""
    _fill(draw, frame, RECT, SHADOW, _shadow(frame))
    roof = _pick(rng, [(150, 140, 130), (170, 90, 70), (190, 185, 175), (110, 110, 115)])
    _fill(draw, frame, RECT, roof)
    _line(draw, frame, -0.9, 0, 0.9, 0, _jitter(rng, tuple(int(c * 0.75) for c in roof)))


def draw_parking_lot(draw: ImageDraw, frame: Frame, rng: Rng) -> None:
    """Unlabelled background of a parking lot: grey asphalt."""
    _fill(draw, frame, RECT, _pick(rng, [(95, 95, 98), (115, 112, 108)]))


DRAWERS = {
    "plane": draw_plane, "ship": draw_ship, "storage-tank": draw_storage_tank,
    "small-vehicle": draw_small_vehicle, "large-vehicle": draw_large_vehicle,
    "tennis-court": draw_tennis_court, "swimming-pool": draw_swimming_pool,
    "building": draw_building, "parking-lot": draw_parking_lot,
}
