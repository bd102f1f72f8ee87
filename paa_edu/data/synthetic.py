"""A deterministic synthetic aerial benchmark written in the DOTA format.

:func:`make_scene` draws aerial-looking scenes (textured land, water, roads, buildings and trees
as clutter) with seven classes, each with its own shape, colours, aspect and size range
(:data:`CLASS_SPECS`). Every object is placed at an arbitrary orientation (tanks excepted: a
circle is labelled with an axis-aligned square, as DOTA annotators do) without overlapping the
others; its label polygon is the corners of its oriented rectangle
(:func:`paa_edu.geometry.obb2poly`), clockwise on screen, as DOTA stores it. The same seed gives
the same images and labels."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageFilter
from PIL.ImageDraw import Draw, ImageDraw
from shapely.geometry import Point, Polygon

from paa_edu.data.synthetic_draw import DRAWERS, Frame, Rng
from paa_edu.geometry import obb2poly

SYNTHETIC_CLASSES = ("plane", "ship", "storage-tank", "small-vehicle", "large-vehicle",
                     "tennis-court", "swimming-pool")
GENERATOR_VERSION = 1  # bump when the drawing changes, so cached datasets are regenerated


@dataclass(frozen=True)
class ClassSpec:
    """How one class is sampled: long-side range (px), aspect w/h range, frequency."""
    length: tuple[float, float]
    aspect: tuple[float, float]
    weight: float


CLASS_SPECS = {
    "plane": ClassSpec((30, 120), (0.9, 1.15), 1.0),  # fuselage, swept wings, tail
    "ship": ClassSpec((25, 200), (3.5, 6.0), 1.0),  # hull with a pointed bow, on water
    "storage-tank": ClassSpec((15, 100), (1.0, 1.0), 1.0),  # round, lighter roof, shadow
    "small-vehicle": ClassSpec((8, 20), (1.8, 2.2), 1.5),  # car, often in parked rows
    "large-vehicle": ClassSpec((25, 60), (3.5, 4.5), 1.0),  # truck: cab + trailer
    "tennis-court": ClassSpec((40, 90), (2.0, 2.2), 0.7),  # court with white markings
    "swimming-pool": ClassSpec((20, 80), (1.4, 2.5), 0.7),  # blue basin with a light rim
}


@dataclass(frozen=True)
class SceneConfig:
    """What one scene may contain."""
    object_size: tuple[float, float] = (8.0, 200.0)  # clamp of every class's long side (px)
    num_objects: tuple[int, int] = (10, 150)  # (min, max) per scene, parked cars included
    parking_prob: float = 0.4  # a dense parking lot (aligned rows of small vehicles)
    water_prob: float = 0.5  # a water area (ships only appear on water)
    clutter: float = 1.0  # multiplier of the unlabelled distractors (buildings, trees, roads)


@dataclass(frozen=True)
class SyntheticPreset:
    """A whole dataset: image size, number of images per split and the scene config."""
    image_size: int
    num_train: int
    num_val: int
    scene: SceneConfig = field(default_factory=SceneConfig)


PRESETS = {
    # CPU: tests, notebooks and `paa-edu demo`; a tiny detector learns it in minutes.
    "tiny": SyntheticPreset(256, num_train=200, num_val=50, scene=SceneConfig(
        object_size=(10.0, 80.0), num_objects=(4, 20), parking_prob=0.3, water_prob=0.4,
        clutter=0.5)),
    # GPU: the real comparison of the three assigners (1024 px patches, full size range).
    "full": SyntheticPreset(1024, num_train=2000, num_val=500, scene=SceneConfig()),
    # GPU, short slots: few 512 px scenes, quick to draw (the gpu_synthetic config).
    "gpu": SyntheticPreset(512, num_train=160, num_val=32, scene=SceneConfig(
        object_size=(8.0, 120.0), num_objects=(10, 60))),
}


class _Occupancy:
    """Placed things as circles (centre, radius); a candidate must not touch any of them."""
    def __init__(self) -> None:
        self.circles = np.zeros((0, 3))  # (N, 3) cx, cy, r

    def is_free(self, cx: float, cy: float, r: float, margin: float = 2.0) -> bool:
        dist = np.hypot(self.circles[:, 0] - cx, self.circles[:, 1] - cy)  # (N,)
        return bool((dist >= self.circles[:, 2] + r + margin).all())

    def add(self, cx: float, cy: float, r: float) -> None:
        self.circles = np.vstack([self.circles, [cx, cy, r]])


def _frame(box: tuple[float, ...]) -> Frame:
    """Local frame of a rotated box, from its polygon (the one corner convention)."""
    poly = obb2poly(torch.tensor([box], dtype=torch.float64))[0].view(4, 2).numpy()  # (4, 2)
    return Frame(center=poly.mean(0), eu=(poly[1] - poly[0]) / 2, ev=(poly[3] - poly[0]) / 2)


def _background(rng: Rng, height: int, width: int) -> np.ndarray:  # (H, W, 3)
    """Textured land: base colour + smooth low-frequency blotches + pixel noise."""
    base = np.array([(96, 108, 78), (120, 112, 92), (104, 104, 100), (88, 100, 70)])
    colour = base[rng.integers(len(base))] + rng.normal(0, 8, 3)  # (3,)
    coarse = rng.normal(0, 14, (height // 48 + 2, width // 48 + 2)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))
    image = colour + blotches[..., None] + rng.normal(0, 5, (height, width, 3))  # (H, W, 3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _add_water(draw: ImageDraw, rng: Rng, h: int, w: int) -> Polygon:
    """A water area covering one side of the image; returns its polygon."""
    side = 4.0 * max(h, w)
    angle = rng.uniform(-math.pi, math.pi)
    depth = rng.uniform(0.25, 0.5) * min(h, w)  # how far the shore reaches into the image
    dist = max(h, w) / 2 * 1.5 + side / 2 - depth
    cx, cy = w / 2 + dist * math.cos(angle), h / 2 + dist * math.sin(angle)
    poly = obb2poly(torch.tensor([[cx, cy, side, side, angle]], dtype=torch.float64))[0]
    points = [(float(x), float(y)) for x, y in poly.view(4, 2)]
    draw.polygon(points, fill=tuple(int(c) for c in rng.integers((30, 60, 80), (50, 85, 110))))
    return Polygon(points)


def _add_clutter(draw: ImageDraw, rng: Rng, occupancy: _Occupancy,
                 water: Polygon | None, h: int, w: int, amount: float) -> None:
    """Unlabelled distractors: roads and buildings (buildings block placement)."""
    for _ in range(rng.poisson(0.8 * amount)):  # straight roads crossing the image
        x0, y0, x1, y1 = rng.uniform(0, 1, 4) * (w, h, w, h)
        grey = int(rng.integers(70, 110))
        draw.line([(x0, y0), (x1, y1)], fill=(grey, grey, grey), width=int(rng.integers(4, 14)))
    for _ in range(rng.poisson(amount * h * w / 12000)):  # buildings
        size = rng.uniform(12, 45)
        box = (rng.uniform(0, w), rng.uniform(0, h), size, size * rng.uniform(0.5, 1),
               rng.uniform(0, math.pi))
        r = math.hypot(box[2], box[3]) / 2
        if occupancy.is_free(box[0], box[1], r) and not _touches(water, box[0], box[1], r):
            occupancy.add(box[0], box[1], r)
            DRAWERS["building"](draw, _frame(box), rng)


def _add_trees(draw: ImageDraw, rng: Rng, h: int, w: int, amount: float) -> None:
    """Unlabelled clutter: small dark-green tree crowns (drawn before water and objects)."""
    for _ in range(rng.poisson(amount * h * w / 2500)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1.5, 4)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(40, int(rng.integers(60, 85)), 35))


def _touches(region: Polygon | None, cx: float, cy: float, r: float) -> bool:
    return region is not None and region.distance(Point(cx, cy)) < r


def _sample_size(rng: Rng, name: str, clamp: tuple[float, float]) -> tuple[float, float]:
    """(length, width) in px: log-uniform length in the class range cut to ``clamp``."""
    spec = CLASS_SPECS[name]
    hi = min(spec.length[1], clamp[1])
    lo = min(max(spec.length[0], clamp[0]), hi)
    length = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return length, length / rng.uniform(*spec.aspect)


def _add_parking(rng: Rng, occupancy: _Occupancy, water: Polygon | None,
                 h: int, w: int, cfg: SceneConfig, budget: int) -> tuple[list, tuple | None]:
    """A parking lot: aligned rows of small vehicles. Returns (objects, lot box or None)."""
    length, width = _sample_size(rng, "small-vehicle", cfg.object_size)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(3, 10))
    while (rows * length * 1.5) ** 2 + (cols * width * 1.5) ** 2 > (0.8 * min(h, w)) ** 2:
        rows, cols = (rows - 1, cols) if rows * length > cols * width else (rows, cols - 1)
    if rows == 0 or cols == 0:
        return [], None
    lot = (0.0, 0.0, rows * length * 1.5 + 4, cols * width * 1.5 + 4, rng.uniform(0, math.pi))
    radius = math.hypot(lot[2], lot[3]) / 2
    for _ in range(20):
        cx, cy = rng.uniform(radius, w - radius), rng.uniform(radius, h - radius)
        if occupancy.is_free(cx, cy, radius) and not _touches(water, cx, cy, radius):
            break
    else:
        return [], None
    lot = (cx, cy) + lot[2:]
    occupancy.add(cx, cy, radius)
    frame, objects = _frame(lot), []
    for row in range(rows):
        for col in range(cols):
            if len(objects) >= budget or rng.random() < 0.15:  # some empty slots
                continue
            a = (row + 0.5) / rows * 2 - 1 + rng.normal(0, 0.01)
            b = (col + 0.5) / cols * 2 - 1 + rng.normal(0, 0.01)
            x, y = frame.to_image(np.array([[a, b]]))[0]
            theta = lot[4] + math.pi * int(rng.integers(2)) + rng.normal(0, 0.03)
            objects.append(("small-vehicle", (float(x), float(y), length, width, theta)))
    return objects, lot


def _place_free(rng: Rng, occupancy: _Occupancy, water: Polygon | None,
                h: int, w: int, cfg: SceneConfig) -> tuple[str, tuple] | None:
    """One randomly chosen object at a free spot (ships on water, the rest on land)."""
    names = list(CLASS_SPECS) if water is not None else [n for n in CLASS_SPECS if n != "ship"]
    weights = np.array([CLASS_SPECS[n].weight * (3 if n == "ship" else 1) for n in names])
    name = names[rng.choice(len(names), p=weights / weights.sum())]
    length, width = _sample_size(rng, name, cfg.object_size)
    theta = 0.0 if name == "storage-tank" else rng.uniform(-math.pi, math.pi)
    radius = math.hypot(length, width) / 2
    if 2 * radius + 2 >= min(h, w):
        return None
    for _ in range(50 if name == "ship" else 20):  # water is small: ships need more tries
        cx, cy = rng.uniform(radius + 1, w - radius - 1), rng.uniform(radius + 1, h - radius - 1)
        on_water = water is not None and water.contains(Point(cx, cy).buffer(radius, 8))
        wrong_place = not on_water if name == "ship" else _touches(water, cx, cy, radius)
        if not wrong_place and occupancy.is_free(cx, cy, radius):
            occupancy.add(cx, cy, radius)
            return name, (cx, cy, length, width, theta)
    return None


def make_scene(seed: int, size: int | tuple[int, int] = 256,
               config: SceneConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene of ``size`` (a side or (H, W)), a pure function of ``seed``: image (H, W, 3)
    uint8 RGB, polys (M, 8) float64 clockwise, labels (M,) int64 into SYNTHETIC_CLASSES."""
    h, w = (size, size) if isinstance(size, int) else size
    if h < 32 or w < 32:
        raise ValueError(f"size must be at least 32 px, got {size}")
    cfg = config or SceneConfig()
    rng = np.random.default_rng(seed)
    image = Image.fromarray(_background(rng, h, w))
    draw = Draw(image)
    # 1. Context: trees, water, clutter; 2. dense parked rows; 3. free objects; 4. draw them.
    _add_trees(draw, rng, h, w, cfg.clutter)
    water = _add_water(draw, rng, h, w) if rng.random() < cfg.water_prob else None
    occupancy = _Occupancy()
    _add_clutter(draw, rng, occupancy, water, h, w, cfg.clutter)
    budget = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    objects = []
    if rng.random() < cfg.parking_prob:
        cars, lot = _add_parking(rng, occupancy, water, h, w, cfg, budget)
        if lot is not None:
            DRAWERS["parking-lot"](draw, _frame(lot), rng)
        objects += cars
    for _ in range(3 * budget):
        if len(objects) >= budget:
            break
        placed = _place_free(rng, occupancy, water, h, w, cfg)
        if placed is not None:
            objects.append(placed)
    for name, box in objects:
        DRAWERS[name](draw, _frame(box), rng)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    boxes = torch.tensor([box for _, box in objects], dtype=torch.float64).reshape(-1, 5)
    polys = obb2poly(boxes).numpy().reshape(-1, 8) if len(objects) else np.zeros((0, 8))
    labels = np.array([SYNTHETIC_CLASSES.index(name) for name, _ in objects], dtype=np.int64)
    return np.asarray(image), polys, labels


def make_preset_scene(preset: str | SyntheticPreset, split: str, index: int, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image ``index`` of a preset's ``"train"`` or ``"val"`` split (what the writer saves), as
    :func:`make_scene` returns it, from a seed distinct per (seed, split, index)."""
    preset = _resolve(preset)
    scene_seed = np.random.SeedSequence([seed, int(split != "train"), index]).generate_state(1)
    return make_scene(int(scene_seed[0]), preset.image_size, preset.scene)


def _resolve(preset: str | SyntheticPreset) -> SyntheticPreset:
    if not isinstance(preset, SyntheticPreset) and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {list(PRESETS)}")
    return preset if isinstance(preset, SyntheticPreset) else PRESETS[preset]
