"""ResNet + FPN: level shapes, narrow variant, local weight loading."""
from __future__ import annotations

import pytest
import torch
import torchvision

from paa_edu.model.backbone import FPN, ResNetFPN, build_resnet


@pytest.mark.parametrize("depth, width, levels", [(18, 8, 3), (18, 8, 5), (34, 8, 4)])
def test_levels_have_strides_8_to_128(depth, width, levels):
    net = ResNetFPN(depth, width, fpn_channels=16, num_levels=levels)
    feats = net(torch.randn(1, 3, 128, 128))
    assert [tuple(f.shape) for f in feats] == [(1, 16, 128 // s, 128 // s)
                                               for s in (8, 16, 32, 64, 128)[:levels]]


def test_resnet50_channels_and_torchvision_layout():
    net = build_resnet(50)
    assert net.out_channels == (512, 1024, 2048)
    assert not hasattr(net, "fc")


def test_local_weights_are_loaded_and_checked(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    net = build_resnet(18, weights=str(path))
    assert torch.equal(net.conv1.weight, reference.conv1.weight)
    with pytest.raises(FileNotFoundError):
        build_resnet(18, weights=str(tmp_path / "missing.pth"))
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="no key matches"):
        build_resnet(18, weights=str(tmp_path / "bad.pth"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        build_resnet(101)
    with pytest.raises(ValueError, match="width"):
        build_resnet(50, width=32)
    with pytest.raises(ValueError, match="num_levels"):
        FPN((8, 16, 32), 16, num_levels=6)
