"""ImageNet weights: torchvision names via the hub cache (download faked), local files, errors."""
from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from paa_edu.model.backbone import build_resnet, hub_checkpoint_path, weights_enum

R18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1 file


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache under tmp_path ($TORCH_HOME) and a fake download function."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append(url)
        torch.save(reference.state_dict(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    return reference, calls, tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "DEFAULT"])
def test_weights_name_is_downloaded_once_into_the_hub_cache(hub, name):
    reference, calls, cache = hub
    net = build_resnet(18, weights=name)
    assert calls == [weights_enum(18)["IMAGENET1K_V1"].url]
    assert (cache / R18_FILE).is_file()
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(net.state_dict()[key], value), key
    build_resnet(18, weights=name)  # second time: read from the cache, no download
    assert len(calls) == 1


def test_offline_error_names_the_file_and_where_it_goes(hub, monkeypatch):
    def offline(url, dst, hash_prefix=None, progress=True):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(FileNotFoundError) as info:
        build_resnet(50, weights="IMAGENET1K_V1")
    message = str(info.value)
    assert "\n" not in message
    assert "$TORCH_HOME/hub/checkpoints/resnet50-0676ba61.pth" in message
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in message
    assert "--set model.backbone_weights=/path/to/resnet50-0676ba61.pth" in message
    assert str(hub_checkpoint_path(weights_enum(50)["IMAGENET1K_V1"].url)) in message


def test_local_file_written_here_is_loaded(tmp_path):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "my_resnet18.pth"
    torch.save({"state_dict": reference.state_dict()}, path)  # mmcv-style wrapper
    net = build_resnet(18, weights=str(path))
    assert torch.equal(net.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.equal(net.bn1.running_var, reference.bn1.running_var)


def test_bad_weights_arguments():
    with pytest.raises(ValueError, match="neither a local file nor a torchvision weights name"):
        build_resnet(18, weights="IMAGENET1K_V9")
    with pytest.raises(FileNotFoundError, match="file not found"):
        build_resnet(18, weights="/nonexistent/resnet18.pth")
    with pytest.raises(ValueError, match="width 64"):
        build_resnet(18, width=32, weights="IMAGENET1K_V1")


def test_checkpoint_never_needs_the_weights_file_again(tiny_cfg, tmp_path):
    from paa_edu.config import apply_overrides
    from paa_edu.engine.checkpoint import load_model
    from paa_edu.engine.train import train
    torch.manual_seed(2)
    path = tmp_path / "narrow_r18.pth"
    torch.save(build_resnet(18, width=8).state_dict(), path)  # tiny_cfg's trunk, width 8
    cfg = apply_overrides(tiny_cfg, [f"model.backbone_weights={path}", "train.max_iters=1"])
    first = train(cfg, progress=False)
    path.unlink()  # gone: evaluation, prediction and --resume must not need it
    model, loaded_cfg = load_model(first["checkpoint"])
    assert loaded_cfg.model.backbone_weights == str(path)  # the record of what was used
    for key, value in first["model"].state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    more = apply_overrides(cfg, ["train.epochs=2", "train.max_iters=2"])
    assert len(train(more, resume=True, progress=False)["history"]) == 1
