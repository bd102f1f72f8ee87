import math

import pytest
import torch

from paa_edu.model.anchors import AnchorGenerator


def test_hand_written_level():
    gen = AnchorGenerator(strides=(8,))
    (anchors,) = gen.grid_anchors([(2, 3)])
    expected = torch.tensor([[x, y, 32.0, 32.0, 0.0] for y in (0, 8) for x in (0, 8, 16)])
    assert torch.equal(anchors, expected)


def test_counts_sizes_and_offset():
    gen = AnchorGenerator(strides=(8, 16, 32, 64, 128), center_offset=0.5)
    anchors, sizes = gen.anchors_for_image((100, 260))
    assert sizes == [(13, 33), (7, 17), (4, 9), (2, 5), (1, 3)]
    assert [len(a) for a in anchors] == gen.num_level_anchors(sizes)
    assert anchors[0][0, :2].tolist() == [4.0, 4.0]
    assert [a[0, 2].item() for a in anchors] == [32.0, 64.0, 128.0, 256.0, 512.0]


def test_order_matches_head_permute():
    """Anchor a and the a-th row of a (B, R*C, H, W) -> (B, H*W*R, C) permute share a cell."""
    gen = AnchorGenerator(strides=(16,), scales_per_octave=2, ratios=(0.5, 1.0, 2.0))
    num_r, height, width = gen.num_anchors_per_location, 3, 4
    (anchors,) = gen.grid_anchors([(height, width)])
    # Encode each cell's (x, y, r) in a fake head output and permute it like the head does.
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    out = torch.stack([xs, ys]).float().unsqueeze(0).expand(num_r, 2, height, width)
    out = out.reshape(1, 2 * num_r, height, width)
    flat = out.view(1, num_r, 2, height, width).permute(0, 3, 4, 1, 2).reshape(1, -1, 2)
    assert torch.equal(flat[0] * 16, anchors[:, :2])
    # Scales outer, ratios inner; area is constant within one scale.
    areas = (anchors[:num_r, 2] * anchors[:num_r, 3]).tolist()
    assert areas[0] == pytest.approx(areas[2]) and areas[3] == pytest.approx(2 * areas[0])
    assert anchors[0, 3] / anchors[0, 2] == pytest.approx(0.5)


def test_angle_dtype_device():
    gen = AnchorGenerator(strides=(8,), angle=math.pi / 6)
    (anchors,) = gen.grid_anchors([(1, 1)], dtype=torch.float64)
    assert anchors.dtype == torch.float64 and anchors[0, 4].item() == pytest.approx(math.pi / 6)


@pytest.mark.parametrize("kwargs", [dict(strides=()), dict(strides=(0, 8)), dict(ratios=(-1,)),
                                    dict(octave_base_scale=0), dict(center_offset=1.0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        AnchorGenerator(**kwargs)


def test_bad_feature_sizes():
    gen = AnchorGenerator(strides=(8, 16))
    with pytest.raises(ValueError, match="2 strides"):
        gen.grid_anchors([(4, 4)])
