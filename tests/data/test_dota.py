"""labelTxt reading/writing: round trip, headers, and clear file:line errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paa_edu.data.dota import (
    DOTA_CLASSES,
    LabelWarning,
    image_size,
    list_images,
    parse_label_file,
    read_image,
    read_label_file,
    write_label_file,
)
from paa_edu.geometry import box_iou_rotated, obb2poly, poly2obb

SQUARE = [10, 10, 50, 10, 50, 30, 10, 30]  # 40 x 20 rectangle, clockwise on screen


def _write(tmp_path, text: str):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    return path


def test_dota_classes_are_the_15_v1_classes_in_standard_order():
    assert len(DOTA_CLASSES) == 15
    assert DOTA_CLASSES[0] == "plane" and DOTA_CLASSES[4] == "small-vehicle"
    assert DOTA_CLASSES[9] == "storage-tank" and DOTA_CLASSES[-1] == "helicopter"


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    boxes = torch.tensor(np.column_stack([rng.uniform(50, 500, (20, 2)),
                                          rng.uniform(5, 80, (20, 2)),
                                          rng.uniform(-3, 3, 20)]))
    polys = obb2poly(boxes).numpy()  # (20, 8)
    names = [DOTA_CLASSES[i] for i in rng.integers(0, 15, 20)]
    difficult = rng.integers(0, 2, 20)
    header = {"imagesource": "GoogleEarth", "gsd": "0.146"}
    path = write_label_file(tmp_path / "sub" / "P0001.txt", polys, names, difficult, header)

    raw = parse_label_file(path)
    assert raw.header == header and raw.names == names
    np.testing.assert_allclose(raw.polys, polys, atol=5e-3)
    np.testing.assert_array_equal(raw.difficult, difficult)
    assert raw.line_numbers == list(range(3, 23))

    target = read_label_file(path, DOTA_CLASSES, version="le135")
    assert target["boxes"].shape == (20, 5) and target["boxes"].dtype == torch.float32
    assert target["labels"].tolist() == [DOTA_CLASSES.index(n) for n in names]
    assert target["difficult"].tolist() == [bool(d) for d in difficult]
    ious = box_iou_rotated(target["boxes"].double(), boxes, aligned=True)  # (20,)
    assert torch.all(ious > 0.999)
    # le135: long side first, theta in [-pi/4, 3pi/4)
    assert torch.all(target["boxes"][:, 2] >= target["boxes"][:, 3])
    theta = target["boxes"][:, 4]
    assert torch.all((theta >= -np.pi / 4) & (theta < 3 * np.pi / 4))


def test_missing_difficult_means_zero_and_headers_are_optional(tmp_path):
    path = _write(tmp_path, "10 10 50 10 50 30 10 30 plane\n\n10 40 50 40 50 60 10 60 ship 1\n")
    target = read_label_file(path)
    assert target["difficult"].tolist() == [False, True]
    assert target["labels"].tolist() == [0, 6] and target["header"] == {}


def test_version_changes_the_angle_but_not_the_rectangle(tmp_path):
    path = _write(tmp_path, " ".join(map(str, SQUARE)) + " plane 0\n")
    boxes = {v: read_label_file(path, version=v)["boxes"] for v in ("oc", "le135", "le90")}
    expected = poly2obb(torch.tensor([SQUARE], dtype=torch.float64), "le90").float()
    torch.testing.assert_close(boxes["le90"], expected)
    for box in boxes.values():
        assert box_iou_rotated(box.double(), boxes["le135"].double()).item() > 0.999


def test_empty_file_gives_empty_tensors(tmp_path):
    target = read_label_file(_write(tmp_path, "imagesource:GoogleEarth\ngsd:0.2\n"))
    assert target["boxes"].shape == (0, 5) and target["labels"].shape == (0,)
    assert target["header"] == {"imagesource": "GoogleEarth", "gsd": "0.2"}


@pytest.mark.parametrize("line, reason", [
    ("10 10 50 10 50 30 10 plane 0", "non-numeric"),  # a missing coordinate
    ("10 10 50 10 50 30 10 30", "9 or 10 fields"),
    ("10 10 50 10 50 30 10 30 plane 0 extra", "9 or 10 fields"),
    ("10 10 50 ten 50 30 10 30 plane 0", "non-numeric"),
    ("10 10 50 nan 50 30 10 30 plane 0", "non-finite"),
    ("10 10 50 10 50 30 10 30 plane -1", "difficult"),
    ("10 10 50 10 50 30 10 30 plane 3", r"difficult must be 0, 1 \(DOTA\) or 2"),
    ("10 10 50 10 50 30 10 30 plane 1.0", "difficult must be"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, reason):
    path = _write(tmp_path, "imagesource:x\n10 10 50 10 50 30 10 30 plane 0\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"bad\.txt:3: .*{reason}"):
        parse_label_file(path)


def test_unknown_class_and_degenerate_polygon_name_file_and_line(tmp_path):
    path = _write(tmp_path, "10 10 50 10 50 30 10 30 airplane 0\n")
    with pytest.raises(ValueError, match=r"bad\.txt:1: unknown class 'airplane'"):
        read_label_file(path)
    path = _write(tmp_path, "10 10 50 10 50 30 10 30 plane 0\n5 5 5 5 5 5 5 5 ship 0\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: degenerate polygon"), \
            pytest.warns(UserWarning, match=r"bad\.txt:2: repeated vertex"):
        read_label_file(path)
    path = _write(tmp_path, "0 0 100 0 100 0.5 0 0.5 bridge 0\n")  # 0.5 px thin
    with pytest.raises(ValueError, match=r"bad\.txt:1: degenerate"):
        read_label_file(path)
    assert len(read_label_file(path, min_size=0.25)["labels"]) == 1


def test_lenient_mode_skips_bad_objects_with_a_warning(tmp_path):
    path = _write(tmp_path, "10 10 50 10 50 30 10 30 plane 0\n1 2 3 oops\n"
                            "10 10 50 10 50 30 10 30 zeppelin 0\n"
                            "10 40 50 40 50 60 10 60 ship 0\n")
    with pytest.warns(UserWarning) as record:
        target = read_label_file(path, lenient=True)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert "bad.txt:2:" in messages[0] and "bad.txt:3: unknown class" in messages[1]
    assert target["labels"].tolist() == [0, 6]


def test_write_refuses_what_would_make_an_unreadable_file(tmp_path):
    with pytest.raises(ValueError, match="without spaces"):
        write_label_file(tmp_path / "a.txt", np.array([SQUARE]), ["small vehicle"])
    with pytest.raises(ValueError, match="NaN"):
        write_label_file(tmp_path / "a.txt", np.full((1, 8), np.nan), ["plane"])


def test_list_images_is_sorted_and_filters_extensions(tmp_path):
    for name in ("b.png", "a.jpg", "c.txt", "d.TIF"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png", "d.TIF"]
    with pytest.raises(ValueError, match="does not exist"):
        list_images(tmp_path / "missing")


def test_write_dota_sample_round_trips_image_and_labels(tmp_path):
    import mmcv

    from paa_edu.data import read_label_file, write_dota_sample
    image = np.zeros((40, 60, 3), np.uint8)
    image[5:10, 5:20] = (255, 0, 0)  # red in RGB
    polys = np.array([[5.0, 5.0, 20.0, 5.0, 20.0, 10.0, 5.0, 10.0]])
    image_path, label_path = write_dota_sample(tmp_path / "train", "a", image, polys, ["ship"])
    assert image_path == tmp_path / "train" / "images" / "a.png"
    assert mmcv.imread(str(image_path), channel_order="rgb")[7, 10].tolist() == [255, 0, 0]
    assert read_label_file(label_path, ["ship"])["polys"].tolist() == polys.tolist()


def test_a_utf8_bom_is_accepted_and_other_encodings_are_refused_by_path(tmp_path):
    text = "imagesource:GoogleEarth\n10 10 50 10 50 30 10 30 plane 1\n"
    plain = parse_label_file(_write(tmp_path, text))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text.encode())
    with_bom = parse_label_file(tmp_path / "bom.txt")
    assert with_bom.header == plain.header == {"imagesource": "GoogleEarth"}
    np.testing.assert_array_equal(with_bom.polys, plain.polys)
    (tmp_path / "latin.txt").write_bytes("10 10 50 10 50 30 10 30 plan\xe9 0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.txt: not UTF-8 text \(byte 0xe9 at offset 28\)"):
        parse_label_file(tmp_path / "latin.txt")


def test_a_triangle_given_as_a_quadrilateral_is_warned_about(tmp_path):
    path = _write(tmp_path, "10 10 50 10 50 30 50 30 plane 0\n")  # vertex 3 == vertex 4
    with pytest.warns(LabelWarning, match=r"bad\.txt:1: repeated vertex"):
        assert len(parse_label_file(path)) == 1


def test_objects_wholly_outside_the_image_are_dropped_with_file_and_line(tmp_path):
    path = _write(tmp_path, "10 10 50 10 50 30 10 30 plane 0\n"
                            "110 10 150 10 150 30 110 30 ship 0\n"  # x >= W = 100: outside
                            "90 -5 120 -5 120 20 90 20 ship 0\n"  # past the border: kept
                            "10 -40 50 -40 50 0 10 0 plane 0\n")  # y <= 0: outside
    with pytest.warns(LabelWarning) as caught:
        target = read_label_file(path, image_size=(60, 100))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and "bad.txt:2: object wholly outside the 100x60" in messages[0]
    assert "bad.txt:4: object wholly outside" in messages[1]
    assert target["labels"].tolist() == [0, 6]  # plane (line 1), ship (line 3)
    assert len(read_label_file(path)["labels"]) == 4  # without an image size, nothing dropped


@pytest.mark.parametrize("content, reason", [
    (b"", "empty image file \\(0 bytes\\)"), (b"not an image", "cannot decode the image")])
def test_an_empty_or_corrupt_image_is_named(tmp_path, content, reason):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ValueError, match=rf"x\.png: {reason}"):
        read_image(tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"x\.png: cannot read the image header"):
        image_size(tmp_path / "x.png")
