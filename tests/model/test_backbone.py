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


def _batchnorms(module: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_frozen_stages_and_norm_eval_survive_train():
    net = ResNetFPN(18, 8, fpn_channels=16, num_levels=3, frozen_stages=1, norm_eval=True)
    net.train()
    b = net.body
    frozen = [b.conv1, b.bn1, b.layer1]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for m in (b.layer2, b.layer3, b.layer4, net.fpn)
               for p in m.parameters())
    assert all(not bn.training for bn in _batchnorms(b))  # norm_eval, also after train()
    assert b.layer2[0].conv1.training and net.fpn.training
    stem_only = ResNetFPN(18, 8, fpn_channels=16, num_levels=3, frozen_stages=0).train()
    assert not stem_only.body.bn1.training and stem_only.body.layer1[0].bn1.training
    assert stem_only.body.layer1[0].conv1.weight.requires_grad
    default = ResNetFPN(18, 8, fpn_channels=16, num_levels=3).train()
    assert all(bn.training for bn in _batchnorms(default.body))
    assert all(p.requires_grad for p in default.parameters())
    with pytest.raises(ValueError, match="frozen_stages"):
        ResNetFPN(18, 8, frozen_stages=5)


def test_relu_before_extra_convs_only_changes_p7():
    torch.manual_seed(0)
    feats = [torch.randn(1, c, s, s) for c, s in ((8, 16), (16, 8), (32, 4))]
    with_relu = FPN((8, 16, 32), 8, num_levels=5)
    plain = FPN((8, 16, 32), 8, num_levels=5, relu_before_extra_convs=False)
    plain.load_state_dict(with_relu.state_dict())  # same keys, same weights
    a, b = with_relu(feats), plain(feats)
    for level in range(4):
        assert torch.equal(a[level], b[level])
    p6 = b[3]  # the seed: P7 = conv(P6), no ReLU (hand-computed oracle)
    torch.testing.assert_close(b[4], plain.extra[1](p6))
    torch.testing.assert_close(a[4], with_relu.extra[1](torch.relu(p6)))
    assert not torch.equal(a[4], b[4])


def test_one_training_step_of_the_seed_preset_leaves_frozen_parts_bit_identical():
    from paa_edu.config import apply_overrides
    from paa_edu.engine.train import train_one_step
    from paa_edu.model import RotatedPAADetector
    from paa_edu.presets import r50_dota_1x
    torch.manual_seed(0)
    cfg = apply_overrides(r50_dota_1x(), ["model.backbone_weights=None", "train.device=cpu"])
    with pytest.warns(UserWarning, match="random weights"):
        model = RotatedPAADetector(cfg.model)
    model.train()
    body = model.backbone.body
    before = {k: v.clone() for k, v in body.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = torch.randn(1, 3, 128, 128)
    targets = [{"boxes": torch.tensor([[40.0, 50.0, 30.0, 12.0, 0.3], [90.0, 80.0, 20.0, 20.0,
                                                                        -0.5]]),
                "labels": torch.tensor([3, 7])}]
    train_one_step(model, optimizer, None, images, targets, cfg, "test")
    after = body.state_dict()
    frozen = ("conv1.", "bn1.", "layer1.")
    for key, value in after.items():
        if key.startswith(frozen) or "running_" in key or "num_batches_tracked" in key:
            assert torch.equal(value, before[key]), key  # frozen weights and all BN stats
    changed = [k for k in after if k.startswith(("layer2.", "layer3.", "layer4."))
               and "running_" not in k and "num_batches" not in k
               and not torch.equal(after[k], before[k])]
    trainable = [k for k, p in body.named_parameters() if p.requires_grad]
    assert sorted(changed) == sorted(trainable)  # every layer2+ parameter moved
    assert all(k.startswith(("layer2.", "layer3.", "layer4.")) for k in trainable)
