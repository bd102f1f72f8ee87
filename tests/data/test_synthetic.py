"""The synthetic benchmark: determinism, label validity, class properties (writer: see
test_synthetic_writer.py)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from paa_edu.data import (
    PRESETS,
    SYNTHETIC_CLASSES,
    SceneConfig,
    make_scene,
    write_synthetic_dataset,
)
from paa_edu.data.synthetic import CLASS_SPECS
from paa_edu.geometry import poly2obb

TINY = PRESETS["tiny"].scene


def test_same_seed_same_scene_different_seed_different_scene():
    a, b, c = make_scene(3, 256, TINY), make_scene(3, 256, TINY), make_scene(4, 256, TINY)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_scene_arrays_and_polygons_are_valid():
    image, polys, labels = make_scene(0, (200, 300), SceneConfig(num_objects=(20, 30)))
    assert image.shape == (200, 300, 3) and image.dtype == np.uint8
    assert polys.shape == (len(labels), 8) and labels.dtype == np.int64
    assert len(labels) >= 5 and labels.min() >= 0 and labels.max() < len(SYNTHETIC_CLASSES)
    assert (polys[:, 0::2] >= 0).all() and (polys[:, 0::2] <= 300).all()
    assert (polys[:, 1::2] >= 0).all() and (polys[:, 1::2] <= 200).all()
    shapes = [Polygon(p.reshape(4, 2)) for p in polys]
    for poly in polys:  # DOTA order: clockwise on screen (positive shoelace with y down)
        x, y = poly[0::2], poly[1::2]
        assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    for i, a in enumerate(shapes):  # objects never overlap
        assert all(a.intersection(b).area < 1e-6 for b in shapes[i + 1:])


def test_tiny_scenes_cover_all_classes_with_class_specific_sizes_and_shapes():
    boxes, labels = [], []
    for seed in range(40):
        _, polys, lab = make_scene(seed, 256, TINY)
        boxes.append(poly2obb(torch.from_numpy(polys), "le135"))
        labels.append(torch.from_numpy(lab))
    boxes, labels = torch.cat(boxes), torch.cat(labels)  # (N, 5), (N,)
    counts = Counter(labels.tolist())
    assert set(counts) == set(range(len(SYNTHETIC_CLASSES))), counts
    assert boxes[:, 2].min() >= 10 - 1e-3 and boxes[:, 2].max() <= 80 + 1e-3  # tiny clamp
    assert 4 <= len(labels) / 40 <= 20  # objects per scene
    for cls, name in enumerate(SYNTHETIC_CLASSES):
        ratio = (boxes[labels == cls, 2] / boxes[labels == cls, 3]).mean().item()
        low, high = CLASS_SPECS[name].aspect
        assert min(low, 1 / high) - 0.05 <= ratio <= max(high, 1 / low) + 0.05, (name, ratio)
    small = boxes[labels == SYNTHETIC_CLASSES.index("small-vehicle")]
    assert small[:, 2].max() <= 20 + 1e-3
    # orientations are arbitrary: many distinct angles
    assert len(torch.unique((boxes[:, 4] * 10).round())) > 20


def test_parking_lots_give_dense_aligned_rows():
    config = SceneConfig(object_size=(10, 80), num_objects=(30, 30), parking_prob=1.0,
                         water_prob=0.0)
    _, polys, labels = make_scene(1, 256, config)
    cars = poly2obb(torch.from_numpy(polys[labels == 3]), "le135")
    assert len(cars) >= 5
    angles = torch.remainder(cars[:, 4], np.pi)  # (N,)
    diff = (angles[:, None] - angles[None]).abs()  # (N, N)
    aligned = torch.minimum(diff, np.pi - diff) < 0.1
    assert aligned.sum(1).max() >= 5  # one lot = at least 5 cars with the same orientation


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        write_synthetic_dataset(tmp_path, "huge")
    with pytest.raises(ValueError, match="at least 32"):
        make_scene(0, 16)


def test_presets_are_as_documented():
    tiny, full = PRESETS["tiny"], PRESETS["full"]
    assert tiny.image_size == 256 and (tiny.num_train, tiny.num_val) == (200, 50)
    assert tiny.scene.object_size == (10.0, 80.0) and tiny.scene.num_objects == (4, 20)
    assert full.image_size == 1024 and full.num_train >= 1000
