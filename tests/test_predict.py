"""``paa-edu predict --merge`` end to end: a large image is split into patches, a stub detector
finds the objects' pixels in each (resized, normalised, padded) patch, and the merged Task-1
lines must give back the objects drawn into the large image, each once."""
from __future__ import annotations

import math
import shutil

import cv2
import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from paa_edu.cli import main
from paa_edu.config import apply_overrides
from paa_edu.data import (
    SYNTHETIC_CLASSES,
    apply_transforms,
    merge_patch_detections,
    split_dataset,
    write_dota_sample,
)
from paa_edu.presets import tiny_synthetic

SIZE = (1000, 1400)  # (H, W) of the large image
PATCH, OVERLAP = 512, 128


def _corners(cx, cy, w, h, t):
    """Corners of a rotated box (x right, y down, theta clockwise on screen), (4, 2)."""
    u = np.array([math.cos(t), math.sin(t)]) * w / 2
    v = np.array([-math.sin(t), math.cos(t)]) * h / 2
    c = np.array([cx, cy])
    return np.stack([c - u - v, c + u - v, c + u + v, c - u + v])


def _scene(seed=0, count=14):
    """Black image with ``count`` non-overlapping rotated rectangles, each its own colour."""
    rng = np.random.default_rng(seed)
    image = np.zeros((*SIZE, 3), np.uint8)
    objects = []
    while len(objects) < count:
        w, h = rng.uniform(24, 80), rng.uniform(16, 40)
        cx, cy = rng.uniform(50, SIZE[1] - 50), rng.uniform(50, SIZE[0] - 50)
        if any(math.hypot(cx - o[0], cy - o[1]) < 100 for o in objects):
            continue
        objects.append((cx, cy, w, h, rng.uniform(-1.5, 1.5)))
    colours = [(40 + 15 * i, 200 - 10 * i, 90 + 11 * i) for i in range(count)]
    for box, colour in zip(objects, colours):
        # cv2 fills pixel i when i is inside; our pixel i is [i, i + 1): shift by half a pixel
        corners = np.round((_corners(*box) - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(image, [corners], colour, lineType=cv2.LINE_8, shift=4)
    return image, objects, colours


class PixelStub(torch.nn.Module):
    """Finds each known colour in the model input and returns its pixels' box (from the
    pixels' second moments: a uniform w x h rectangle has variances w^2 / 12 and h^2 / 12).
    Objects cut by the patch border are left to the neighbour patch that holds them whole;
    an object whole in two overlapping patches is found in both, and the merge keeps one."""

    def __init__(self, colours, cfg, transforms):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.cfg = cfg.model
        self.images_seen = 0
        self.encoded = []
        for colour in colours:  # each colour as the model input encodes it
            tensor, _, _ = apply_transforms(np.full((1, 1, 3), colour, np.uint8),
                                            torch.zeros(0, 5), transforms, train=False)
            self.encoded.append(tensor[:, 0, 0])  # (3,)

    def forward(self, images):
        self.images_seen += len(images)
        return [self._detect(image) for image in images]

    def _detect(self, image):
        boxes, scores, labels = [], [], []
        for label, code in enumerate(self.encoded):
            # the colours are >= 10 grey levels (0.17 after normalisation) apart: 0.05 finds a
            # colour's pixels without asking the input pipeline for exact bits
            mask = (image.float() - code.float()[:, None, None]).abs().amax(0) < 0.05  # (H, W)
            ys, xs = mask.nonzero(as_tuple=True)
            if len(xs) < 30 or xs.min() == 0 or ys.min() == 0 or xs.max() == mask.shape[1] - 1 \
                    or ys.max() == mask.shape[0] - 1:
                continue  # absent, or cut by the patch border (whole in a neighbour patch)
            pts = torch.stack([xs, ys], 1).double() + 0.5  # pixel centres
            centre = pts.mean(0)
            evals, evecs = torch.linalg.eigh(torch.cov((pts - centre).T))
            w, h = (12 * evals.flip(0)).sqrt().tolist()
            theta = math.atan2(evecs[1, 1].item(), evecs[0, 1].item())
            boxes.append([*centre.tolist(), w, h, theta])
            scores.append(0.5 + label / 100)
            labels.append(label % len(SYNTHETIC_CLASSES))
        return {"boxes": torch.tensor(boxes, dtype=torch.float64).reshape(-1, 5),
                "scores": torch.tensor(scores, dtype=torch.float64),
                "labels": torch.tensor(labels, dtype=torch.long)}


@pytest.fixture(scope="module")
def split_large(tmp_path_factory):
    root = tmp_path_factory.mktemp("large")
    image, objects, colours = _scene()
    polys = np.stack([_corners(*box) for box in objects]).reshape(-1, 8)
    names = [SYNTHETIC_CLASSES[i % len(SYNTHETIC_CLASSES)] for i in range(len(objects))]
    write_dota_sample(root / "src", "BIG", image, polys, names)
    split_dataset(root / "src", root / "dst", patch_size=PATCH, overlap=OVERLAP,
                  progress=False)
    return {"root": root, "objects": objects, "colours": colours, "polys": polys}


def _read_task1(folder):
    rows = []
    for label, name in enumerate(SYNTHETIC_CLASSES):
        for line in (folder / f"Task1_{name}.txt").read_text().splitlines():
            fields = line.split()
            rows.append((fields[0], float(fields[1]), label,
                         np.array([float(v) for v in fields[2:]]).reshape(4, 2)))
    return rows


@pytest.mark.parametrize("max_size", [None, 384])  # 384: every patch is resized by 0.75
def test_predict_merge_maps_every_patch_back(split_large, tmp_path, monkeypatch, max_size,
                                             capsys):
    cfg = apply_overrides(tiny_synthetic(), [f"data.max_size={max_size}"])
    from paa_edu import predict
    stub = PixelStub(split_large["colours"], cfg, predict.ImageFiles([], cfg).transforms)
    monkeypatch.setattr(predict, "load_model", lambda path, device: (stub, cfg))
    patches = sorted((split_large["root"] / "dst" / "images").glob("*.png"))
    assert len(patches) == 4 * 3  # x: 0, 384, 768, 888; y: 0, 384, 488
    out = tmp_path / "submission"
    assert main(["predict", "--checkpoint", "unused.pth", "--input",
                 str(split_large["root"] / "dst" / "images"), "--merge", "--out", str(out),
                 "--batch-size", "4", "--device", "cpu", "--no-progress"]) == 0
    assert "zip" in capsys.readouterr().out
    assert stub.images_seen == len(patches)  # every patch once (3 batches of 4)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"Task1_{name}.txt" for name in SYNTHETIC_CLASSES)  # nothing else: ready to zip
    rows = _read_task1(out)
    assert {row[0] for row in rows} == {"BIG"}
    assert len(rows) == len(split_large["objects"])  # each object once after the merge
    for i, poly in enumerate(split_large["polys"].reshape(-1, 4, 2)):
        truth = Polygon(poly)
        ious = [truth.intersection(Polygon(q)).area / truth.union(Polygon(q)).area
                for _, _, _, q in rows]
        best = int(np.argmax(ious))
        assert ious[best] > (0.85 if max_size is None else 0.8)
        assert rows[best][2] == i % len(SYNTHETIC_CLASSES)
        centre = np.mean(rows[best][3], axis=0)
        # in the large image's pixels: an offset or scale error would be tens of pixels
        assert np.abs(centre - poly.mean(axis=0)).max() < (0.5 if max_size is None else 1.0)


def test_merging_chunk_by_chunk_equals_one_merge_in_any_file_order(split_large, tmp_path,
                                                                  monkeypatch):
    """Two original images of 12 patches each, in shuffled order: chunks of whole images (at
    least 5 patches: here one image each) give what one merge of every patch gives."""
    from paa_edu import predict
    cfg = tiny_synthetic()
    stub = PixelStub(split_large["colours"], cfg, predict.ImageFiles([], cfg).transforms)
    patches = []
    for patch in sorted((split_large["root"] / "dst" / "images").glob("*.png")):
        for image in ("BIG", "TWIN"):  # TWIN: a copy of BIG under another name
            patches.append(tmp_path / patch.name.replace("BIG", image))
            shutil.copy(patch, patches[-1])
    cpu = torch.device("cpu")
    per_patch = predict.predict_files(stub, cfg, patches, cpu, progress=False)
    assert list(per_patch) == [p.stem for p in patches]
    whole = merge_patch_detections(per_patch, predict.MERGE_IOU)
    monkeypatch.setattr(predict, "CHUNK", 5)
    shuffled = [patches[i] for i in np.random.default_rng(0).permutation(len(patches))]
    chunked = predict.predict_files(stub, cfg, shuffled, cpu, batch_size=3, progress=False,
                                    merge=True)
    assert sorted(chunked) == sorted(whole) == ["BIG", "TWIN"]
    for image in whole:
        for key in ("boxes", "scores", "labels"):
            assert torch.equal(chunked[image][key], whole[image][key])
    assert len(whole["BIG"]["boxes"]) == len(split_large["objects"])
    assert stub.images_seen == 2 * len(patches)


@pytest.mark.parametrize("name, merge, match", [
    ("P 0001__1024__0___0", True, "contains whitespace"),
    ("P 0001", False, "contains whitespace"),
    ("P0001", True, "--merge: .* does not match"),
])
def test_bad_names_stop_before_inference(tmp_path, name, merge, match, monkeypatch, capsys):
    from paa_edu import predict
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / f"{name}.png"), np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(predict, "load_model", lambda *a: pytest.fail("model loaded"))
    argv = ["predict", "--checkpoint", "x.pth", "--input", str(folder), "--out",
            str(tmp_path / "out"), "--device", "cpu"] + (["--merge"] if merge else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("paa-edu predict: error: ") and len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(match, err)
    assert not (tmp_path / "out").exists()


def test_same_stem_twice_and_out_is_a_file(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for ext in ("png", "jpg"):
        cv2.imwrite(str(folder / f"a.{ext}"), np.zeros((8, 8, 3), np.uint8))
    assert main(["predict", "--checkpoint", "x.pth", "--input", str(folder), "--out",
                 str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "same name 'a'" in capsys.readouterr().err
    (tmp_path / "file").write_text("mine")
    assert main(["predict", "--checkpoint", "x.pth", "--input", str(folder), "--out",
                 str(tmp_path / "file"), "--device", "cpu"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"
