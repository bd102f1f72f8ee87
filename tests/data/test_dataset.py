"""DOTADataset, collate_batch and the transforms (flips checked against pixels and polygons)."""
from __future__ import annotations

import math

import mmcv
import numpy as np
import pytest
import torch
from matplotlib.path import Path
from shapely.geometry import Polygon
from torch.utils.data import DataLoader

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    DOTADataset,
    SceneConfig,
    SyntheticPreset,
    TransformConfig,
    collate_batch,
    flip_boxes,
    write_label_file,
    write_synthetic_dataset,
)
from paa_edu.data.transforms import apply_transforms, resize
from paa_edu.geometry import box_iou_rotated, obb2poly, poly2obb, regularize_boxes


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    preset = SyntheticPreset(80, 6, 1, SceneConfig((10, 40), (2, 6)))
    root = write_synthetic_dataset(tmp_path_factory.mktemp("syn"), preset, seed=3,
                                   progress=False)["train"]
    # one extra image without objects
    mmcv.imwrite(np.zeros((50, 70, 3), np.uint8), str(root / "images" / "zempty.png"))
    write_label_file(root / "labelTxt" / "zempty.txt", np.zeros((0, 8)), [])
    return root


def _random_boxes(n, size=100.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g, dtype=torch.float64) * size
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 30 + 2
    theta = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 2 * math.pi
    return torch.cat([centre, wh, theta], 1)  # (n, 5)


def test_items_have_the_documented_types_and_shapes(synthetic_dir):
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=False)
    assert len(dataset) == 7 and dataset.image_ids[-1] == "zempty"
    image, target = dataset[0]
    assert image.dtype == torch.float32 and image.shape == (3, 96, 96)  # 80 padded to 96
    assert abs(image[:, :80, :80].mean().item()) < 3  # normalised
    assert (image[:, 80:, :] == 0).all()
    m = len(target["labels"])
    assert target["boxes"].shape == (m, 5) and target["boxes"].dtype == torch.float32
    assert target["labels"].dtype == torch.long and target["difficult"].dtype == torch.bool
    assert target["image_id"] == "syn00000" and target["orig_size"] == (80, 80)
    assert target["scale_factor"] == 1.0 and target["flips"] == []
    image, target = dataset[6]
    assert image.shape == (3, 64, 96) and target["boxes"].shape == (0, 5)
    assert len(DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, filter_empty=True)) == 6


def test_ground_truths_match_hand_written_label_files(tmp_path):
    mmcv.imwrite(np.zeros((60, 80, 3), np.uint8), str(tmp_path / "images" / "a.png"))
    mmcv.imwrite(np.zeros((60, 80, 3), np.uint8), str(tmp_path / "images" / "b.png"))
    (tmp_path / "labelTxt").mkdir()
    (tmp_path / "labelTxt" / "a.txt").write_text(
        "imagesource:GoogleEarth\ngsd:0.5\n"
        "10 10 50 10 50 30 10 30 ship 0\n"  # wide: (30, 20, 40, 20, 0)
        "10 10 20 10 20 50 10 50 plane 1\n")  # tall, difficult: long edge first, theta pi/2
    (tmp_path / "labelTxt" / "b.txt").write_text("")
    classes = ("plane", "ship")
    dataset = DOTADataset(tmp_path, classes, "le135", train=False)
    gts = dataset.ground_truths()
    assert [len(g["labels"]) for g in gts] == [2, 0]
    torch.testing.assert_close(gts[0]["boxes"], torch.tensor(
        [[30.0, 20.0, 40.0, 20.0, 0.0], [15.0, 30.0, 40.0, 10.0, math.pi / 2]]))
    assert gts[0]["labels"].tolist() == [1, 0] and gts[0]["difficult"].tolist() == [False, True]
    assert gts[1]["boxes"].shape == (0, 5)
    # What the training items carry (no resize) is what the evaluation compares against.
    _, target = dataset[0]
    torch.testing.assert_close(target["boxes"], gts[0]["boxes"])


def test_ground_truths_cover_the_polygons_of_the_synthetic_label_files(synthetic_dir):
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=False)
    gts = dataset.ground_truths()
    assert len(gts) == len(dataset)
    for path, gt in zip(dataset.image_paths, gts):  # parse each file by hand, shapely areas
        rows = [line.split() for line in
                (synthetic_dir / "labelTxt" / f"{path.stem}.txt").read_text().splitlines()
                if len(line.split()) >= 9]
        assert len(rows) == len(gt["labels"])
        for row, box, label in zip(rows, gt["boxes"], gt["labels"]):
            quad = Polygon(np.array(row[:8], float).reshape(4, 2))
            cx, cy, w, h, t = box.double().tolist()
            u, v = np.array([math.cos(t), math.sin(t)]) * w / 2, np.array(
                [-math.sin(t), math.cos(t)]) * h / 2
            rect = Polygon([(cx, cy) - u - v, (cx, cy) + u - v, (cx, cy) + u + v,
                            (cx, cy) - u + v])
            assert quad.intersection(rect).area / quad.union(rect).area > 0.99
            assert SYNTHETIC_CLASSES[int(label)] == row[8]


def test_ground_truths_keep_the_label_polygons(synthetic_dir):
    """``polygons`` are the labelTxt quadrilaterals as written (parsed here by hand); for the
    synthetic set they are the corners of the boxes' rectangles."""
    from paa_edu.geometry import box_poly_iou
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=False)
    for stem, gt in zip(dataset.image_ids, dataset.ground_truths()):
        rows = [line.split()[:8] for line in
                (synthetic_dir / "labelTxt" / f"{stem}.txt").read_text().splitlines()
                if ":" not in line]  # header lines are key:value
        expected = torch.tensor([[float(v) for v in row] for row in rows]).reshape(-1, 8)
        assert gt["polygons"].shape == (len(gt["boxes"]), 8)
        torch.testing.assert_close(gt["polygons"], expected)
        if len(expected):
            ious = box_poly_iou(gt["boxes"].double(), gt["polygons"].double()).diagonal()
            assert ious.min() > 0.99
    assert dataset.ground_truths()[-1]["polygons"].shape == (0, 8)  # zempty


def test_collate_pads_to_the_largest_image(synthetic_dir):
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=True)
    loader = DataLoader(dataset, batch_size=7, collate_fn=collate_batch)
    images, targets = next(iter(loader))
    assert images.shape == (7, 3, 96, 96) and len(targets) == 7
    assert (images[6, :, 64:, :] == 0).all() and (images[6, :, :, 96 - 26:] == 0).all()


def test_resize_scales_boxes_and_reports_the_factor(synthetic_dir):
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=False,
                          transforms=TransformConfig(max_size=160))
    image, target = dataset[0]
    assert image.shape == (3, 160, 160) and target["scale_factor"] == 2.0
    torch.testing.assert_close(target["boxes"][:, :4],
                               dataset.ground_truths()[0]["boxes"][:, :4] * 2)
    _, boxes, scale = resize(np.zeros((50, 100, 3), np.uint8), _random_boxes(3).float(), 50)
    assert scale == 0.5


def test_flip_twice_is_the_identity():
    boxes = regularize_boxes(_random_boxes(200), "le135")
    for direction in ("horizontal", "vertical"):
        twice = flip_boxes(flip_boxes(boxes, (100, 120), direction), (100, 120), direction)
        torch.testing.assert_close(twice[:, :4], boxes[:, :4])
        delta = torch.remainder(twice[:, 4] - boxes[:, 4] + 1, math.pi) - 1
        assert delta.abs().max() < 1e-9


@pytest.mark.parametrize("version", ["oc", "le135", "le90"])
@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flipped_polygons_and_flipped_boxes_agree(version, direction):
    height, width = 100, 120
    boxes = regularize_boxes(_random_boxes(200, seed=1), version)
    polys = obb2poly(boxes).view(-1, 4, 2).clone()  # (N, 4, 2)
    if direction == "horizontal":
        polys[..., 0] = width - polys[..., 0]
    else:
        polys[..., 1] = height - polys[..., 1]
    expected = poly2obb(polys.flip(1).reshape(-1, 8), version)  # mirror -> reverse order
    flipped = flip_boxes(boxes, (height, width), direction, version)
    assert torch.all(box_iou_rotated(flipped, expected, aligned=True) > 0.999)
    torch.testing.assert_close(regularize_boxes(flipped, version), flipped)


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flipped_image_pixels_follow_the_flipped_box(direction):
    """The mask of a drawn box, flipped by mmcv, has the centre and axis of the flipped box."""
    height, width = 90, 130
    box = torch.tensor([[40.0, 30.0, 50.0, 12.0, 0.6]], dtype=torch.float64)
    # pixel (row i, column j) covers [j, j + 1) x [i, i + 1): paint it if its centre is inside
    grid_y, grid_x = np.mgrid[0:height, 0:width] + 0.5  # (H, W) each
    inside = Path(obb2poly(box).view(4, 2).numpy()).contains_points(
        np.stack([grid_x.ravel(), grid_y.ravel()], 1)).reshape(height, width)
    mask = np.repeat(inside[..., None], 3, axis=2).astype(np.uint8) * 255  # (H, W, 3)
    flipped_mask = mmcv.imflip(mask, direction=direction)
    flipped_box = flip_boxes(box, mask.shape[:2], direction)
    ys, xs = np.nonzero(flipped_mask[..., 0])
    xs, ys = xs + 0.5, ys + 0.5  # pixel i covers [i, i + 1): its centre is i + 0.5
    assert abs(xs.mean() - flipped_box[0, 0].item()) < 0.3
    assert abs(ys.mean() - flipped_box[0, 1].item()) < 0.3
    cov = np.cov(np.stack([xs, ys]))
    axis = 0.5 * math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])  # long-axis angle
    delta = math.remainder(axis - flipped_box[0, 4].item(), math.pi)
    assert abs(delta) < 0.05


def test_train_mode_flips_randomly_and_consistently(synthetic_dir):
    dataset = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=True,
                          transforms=TransformConfig(hflip_prob=1.0, vflip_prob=0.0))
    image, target = dataset[0]
    plain_image, plain = DOTADataset(synthetic_dir, SYNTHETIC_CLASSES, train=False)[0]
    assert target["flips"] == ["horizontal"]
    torch.testing.assert_close(image[:, :80, :80], plain_image[:, :80, :80].flip(-1))
    expected = flip_boxes(plain["boxes"], (80, 80), "horizontal")
    assert torch.all(box_iou_rotated(target["boxes"], expected, aligned=True) > 0.999)


def test_bad_inputs_raise(tmp_path, synthetic_dir):
    with pytest.raises(ValueError, match="does not exist"):
        DOTADataset(tmp_path)
    (tmp_path / "images").mkdir()
    mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), str(tmp_path / "images" / "a.png"))
    (tmp_path / "labelTxt").mkdir()
    with pytest.raises(ValueError, match="a.txt: label file missing"):
        DOTADataset(tmp_path)
    with pytest.raises(ValueError, match="unknown class"):
        DOTADataset(synthetic_dir, class_names=("plane",))
    tensor, boxes, meta = apply_transforms(np.zeros((8, 8, 3), np.uint8), torch.zeros(0, 5),
                                           TransformConfig(), train=True)
    assert boxes.shape == (0, 5) and tensor.shape == (3, 32, 32)


def _square(x: float, y: float, side: float = 10.0) -> list[float]:
    return [x, y, x + side, y, x + side, y + side, x, y + side]  # clockwise on screen


def test_max_difficulty_then_filter_empty_as_the_seed(tmp_path):
    # a: difficulties 0, 1, 2; b: only a truncated object (2); c: no object at all.
    for stem, flags in (("a", [0, 1, 2]), ("b", [2]), ("c", [])):
        mmcv.imwrite(np.zeros((64, 64, 3), np.uint8), str(tmp_path / "images" / f"{stem}.png"))
        polys = np.array([_square(5 + 15 * i, 5) for i in range(len(flags))]).reshape(-1, 8)
        write_label_file(tmp_path / "labelTxt" / f"{stem}.txt", polys, ["ship"] * len(flags),
                         flags)
    keep_all = DOTADataset(tmp_path, SYNTHETIC_CLASSES, train=False)
    assert [len(t["labels"]) for t in keep_all.annotations] == [3, 1, 0]
    seed = DOTADataset(tmp_path, SYNTHETIC_CLASSES, max_difficulty=1, filter_empty=True)
    assert seed.image_ids == ["a"]  # b is empty once its difficulty-2 object is dropped
    boxes = seed.annotations[0]["boxes"]
    assert boxes[:, 0].tolist() == [10.0, 25.0]  # the objects flagged 0 and 1
    assert seed.annotations[0]["difficult"].tolist() == [False, True]
    only_empty = DOTADataset(tmp_path, SYNTHETIC_CLASSES, filter_empty=True)
    assert only_empty.image_ids == ["a", "b"]
