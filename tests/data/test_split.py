"""Patch splitting: window grid, object clipping rules, a full 3000 x 2000 split, determinism."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from paa_edu.data.dota import LabelFile, parse_label_file
from paa_edu.data.manifest import read_manifest
from paa_edu.data.split import (
    crop_objects,
    patch_name,
    refit_quadrilateral,
    split_dataset,
    window_starts,
)


def _labels(*polys, difficult=None) -> LabelFile:
    polys = np.array(polys, dtype=np.float64).reshape(-1, 8)
    flags = np.zeros(len(polys), np.int64) if difficult is None else np.array(difficult)
    return LabelFile(polys, ["ship"] * len(polys), flags, list(range(1, len(polys) + 1)))


def _rect(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def _iou(a, b) -> float:
    pa, pb = Polygon(np.reshape(a, (4, 2))), Polygon(np.reshape(b, (4, 2)))
    return pa.intersection(pb).area / pa.union(pb).area


@pytest.mark.parametrize("length, expected", [
    (3000, [0, 824, 1648, 1976]), (2000, [0, 824, 976]), (1848, [0, 824]),
    (1024, [0]), (500, [0]), (1025, [0, 1])])
def test_window_starts_match_the_dota_grid(length, expected):
    assert window_starts(length, 1024, 200) == expected


def test_windows_cover_the_image_with_at_least_the_overlap():
    for length in range(1, 5000, 37):
        starts = window_starts(length, 512, 100)
        assert starts[0] == 0 and starts[-1] + 512 >= length
        assert all(b - a <= 412 and b > a for a, b in zip(starts, starts[1:]))
        assert starts[-1] == max(0, length - 512)


def test_window_starts_rejects_bad_settings():
    with pytest.raises(ValueError, match="overlap"):
        window_starts(3000, 1024, 1024)
    with pytest.raises(ValueError, match="patch_size"):
        window_starts(3000, 0, 0)


def test_patch_name_encodes_the_offset():
    assert patch_name("P0001", 1024, 824, 0) == "P0001__1024__824___0"


def test_whole_object_is_copied_and_shifted():
    labels = _labels(_rect(110, 120, 150, 140), difficult=[1])
    polys, names, flags, stats = crop_objects(labels, 100, 100, 100)
    np.testing.assert_allclose(polys, [_rect(10, 20, 50, 40)])
    assert names == ["ship"] and flags.tolist() == [1] and stats.objects_whole == 1


def test_mostly_inside_object_is_clipped_and_keeps_its_difficulty():
    labels = _labels(_rect(60, 10, 110, 30), difficult=[1])  # 80% inside [0, 100)
    polys, _, flags, stats = crop_objects(labels, 0, 0, 100)
    np.testing.assert_allclose(polys, [_rect(60, 10, 100, 30)], atol=1e-9)
    assert flags.tolist() == [1] and stats.objects_clipped == 1


def test_rotated_clipped_object_is_the_min_area_rectangle_of_the_clipped_piece():
    poly = [62, 50, 102, 30, 112, 50, 72, 70]  # rotated rectangle crossing x = 100
    labels = _labels(poly)
    piece = Polygon(np.reshape(poly, (4, 2))).intersection(box(0, 0, 100, 100))
    iof = piece.area / Polygon(np.reshape(poly, (4, 2))).area
    assert 0.7 <= iof < 1
    polys, _, flags, _ = crop_objects(labels, 0, 0, 100)
    expected = np.asarray(piece.minimum_rotated_rectangle.exterior.coords)[:4].reshape(8)
    assert _iou(polys[0], expected) > 1 - 1e-9 and flags.tolist() == [0]
    x, y = polys[0, 0::2], polys[0, 1::2]
    assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0  # clockwise on screen
    np.testing.assert_allclose(polys[0, :2], [62, 50], atol=1e-6)  # starts near old vertex 1


@pytest.mark.parametrize("mode, expected_flags", [("difficult", [2]), ("drop", [])])
def test_mostly_outside_object_is_marked_difficult_or_dropped(mode, expected_flags):
    labels = _labels(_rect(80, 10, 130, 30))  # 40% inside
    polys, _, flags, stats = crop_objects(labels, 0, 0, 100, truncated=mode)
    assert flags.tolist() == expected_flags
    if mode == "difficult":
        np.testing.assert_allclose(polys, [_rect(80, 10, 100, 30)], atol=1e-9)
        assert stats.objects_truncated == 1
    else:
        assert stats.objects_dropped == 1


def test_object_outside_the_patch_is_ignored_and_bad_mode_raises(tmp_path):
    assert len(crop_objects(_labels(_rect(200, 200, 220, 220)), 0, 0, 100)[1]) == 0
    with pytest.raises(ValueError, match="truncated must be one of"):
        split_dataset(tmp_path, tmp_path / "dst", truncated="keep", progress=False)


def test_degenerate_object_raises_with_file_and_line():
    labels = _labels(_rect(10, 10, 50, 30), [5, 5, 5, 5, 5, 5, 5, 5])
    labels.path = "P9.txt"
    with pytest.raises(ValueError, match=r"P9.txt:2: degenerate"):
        crop_objects(labels, 0, 0, 100)


def test_refit_quadrilateral_of_a_line_is_none():
    assert refit_quadrilateral(Polygon([(0, 0), (1, 1), (2, 2)]), np.zeros(2)) is None
    assert refit_quadrilateral(Polygon(), np.zeros(2)) is None


def _expected_objects(polys, names, x, y, size=1024, thr=0.7):
    """Independent re-statement of the rule: (name, difficulty, shapely shape) per object."""
    window, out = box(x, y, x + size, y + size), []
    for poly, name in zip(polys, names):
        shape = Polygon(np.reshape(poly, (4, 2)))
        piece = shape.intersection(window)
        iof = piece.area / shape.area
        if iof >= 1 - 1e-6:
            out.append((name, 0, shape))
        elif iof > 0:
            rect = piece.minimum_rotated_rectangle
            sides = np.diff(np.asarray(rect.exterior.coords), axis=0) if rect.area else [[0, 0]]
            if np.linalg.norm(sides, axis=1).min() >= 1.0:
                out.append((name, 0 if iof >= thr else 2, rect))
    return out


def test_split_of_a_3000_by_2000_scene(split_scene):
    dst, names = split_scene["dst"], split_scene["names"]
    polys = parse_label_file(split_scene["src"] / "labelTxt" / "P0001.txt").polys  # as written
    xs, ys = [0, 824, 1648, 1976], [0, 824, 976]
    expected_names = sorted(patch_name("P0001", 1024, x, y) for x in xs for y in ys)
    assert sorted(p.stem for p in (dst / "images").iterdir()) == expected_names
    assert split_scene["stats"].patches == 12 and split_scene["stats"].images == 1
    whole = np.zeros(len(polys), dtype=bool)
    for x in xs:
        for y in ys:
            got = parse_label_file(dst / "labelTxt" / f"{patch_name('P0001', 1024, x, y)}.txt")
            assert got.header == {"imagesource": "synthetic", "gsd": "0.5"}
            expected = _expected_objects(polys, names, x, y)
            assert len(got) == len(expected)
            shifted = got.polys + np.tile([x, y], 4)  # back to image coordinates
            for poly, name, flag in zip(shifted, got.names, got.difficult):
                shape = Polygon(poly.reshape(4, 2))
                match = [(n, d) for n, d, s in expected
                         if s.intersection(shape).area / s.union(shape).area > 0.999]
                assert match == [(name, flag)]
            for i, poly in enumerate(polys):
                whole[i] |= bool(box(x, y, x + 1024, y + 1024).contains(
                    Polygon(poly.reshape(4, 2))))
    assert whole.all(), "every object smaller than the overlap lies whole in some patch"


def test_patches_are_padded_and_the_split_is_deterministic(split_scene, tmp_path):
    import mmcv
    image = mmcv.imread(str(next((split_scene["dst"] / "images").iterdir())))
    assert image.shape == (1024, 1024, 3)
    split_dataset(split_scene["src"], tmp_path / "again", progress=False)
    for sub in ("images", "labelTxt"):
        first = sorted((split_scene["dst"] / sub).iterdir())
        again = sorted((tmp_path / "again" / sub).iterdir())
        assert [p.name for p in first] == [p.name for p in again]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, again))


def test_small_image_gets_one_padded_patch_and_unlabelled_sets_work(tmp_path):
    import mmcv
    image = np.full((300, 500, 3), 200, np.uint8)
    mmcv.imwrite(image, str(tmp_path / "src" / "images" / "small.png"))
    stats = split_dataset(tmp_path / "src", tmp_path / "dst", patch_size=512, overlap=100,
                          pad_value=0, progress=False)
    patch = mmcv.imread(str(tmp_path / "dst" / "images" / "small__512__0___0.png"))
    assert stats.patches == 1 and patch.shape == (512, 512, 3)
    assert (patch[:300, :500] == 200).all() and (patch[300:] == 0).all()
    assert (patch[:, 500:] == 0).all() and not (tmp_path / "dst" / "labelTxt").exists()


def test_missing_label_file_is_an_error(tmp_path):
    import mmcv
    mmcv.imwrite(np.zeros((10, 10, 3), np.uint8), str(tmp_path / "src" / "images" / "a.png"))
    (tmp_path / "src" / "labelTxt").mkdir()
    with pytest.raises(ValueError, match="a.txt: label file missing"):
        split_dataset(tmp_path / "src", tmp_path / "dst", progress=False)


def test_self_intersecting_polygon_is_handled_through_its_convex_hull():
    bowtie = [90, 10, 130, 30, 130, 10, 90, 30]  # vertices 2 and 3 swapped
    polys, _, flags, stats = crop_objects(_labels(bowtie), 0, 0, 100)
    np.testing.assert_allclose(polys, [_rect(90, 10, 100, 30)], atol=1e-9)  # IoF 0.25
    assert flags.tolist() == [2] and stats.objects_truncated == 1


def test_split_refuses_a_non_empty_dst_and_overwrite_removes_only_its_own_files(
        split_scene, tmp_path):
    """Issue 10 sec. 1: no mixing of patches from two splits, no deleting the user's files."""
    foreign = tmp_path / "foreign"
    (foreign / "images").mkdir(parents=True)
    (foreign / "images" / "mine.png").write_bytes(b"mine")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="paa_edu did not write"):
            split_dataset(split_scene["src"], foreign, progress=False, overwrite=overwrite)
    assert [p.name for p in foreign.rglob("*")] == ["images", "mine.png"]
    dst = tmp_path / "dst"
    split_dataset(split_scene["src"], dst, patch_size=1024, overlap=200, progress=False)
    big = sorted(p.name for p in (dst / "images").iterdir())
    (dst / "images" / "notes.png").write_bytes(b"mine")  # the user's, after the split
    with pytest.raises(ValueError, match="already holds a split.*--overwrite"):
        split_dataset(split_scene["src"], dst, patch_size=800, overlap=100, progress=False)
    assert sorted(p.name for p in (dst / "images").iterdir()) == sorted(big + ["notes.png"])
    split_dataset(split_scene["src"], dst, patch_size=800, overlap=100, progress=False,
                  overwrite=True)
    names = sorted(p.name for p in (dst / "images").iterdir())
    assert "notes.png" in names and not set(big) & set(names)
    assert all("__800__" in n for n in names if n != "notes.png")
    assert len(read_manifest(dst).files) == 2 * (len(names) - 1)
