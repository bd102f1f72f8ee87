"""Fixtures shared by the model, training and CLI tests: a tiny config and a tiny dataset."""
from __future__ import annotations

import signal

import pytest
import torch

# The README's command runs two pytest workers on two cores: one thread each avoids OpenMP
# threads waiting on each other (see docs/benchmarks.md, "Threads").
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _label_cache_in_tmp(tmp_path_factory):
    """Parsed-label caches (paa_edu.data.label_cache) go to a temporary folder, not ~/.cache."""
    import os
    previous = os.environ.get("PAA_EDU_CACHE_DIR")
    os.environ["PAA_EDU_CACHE_DIR"] = str(tmp_path_factory.mktemp("label_cache"))
    yield
    if previous is None:
        os.environ.pop("PAA_EDU_CACHE_DIR", None)
    else:
        os.environ["PAA_EDU_CACHE_DIR"] = previous


#: ``--set`` overrides that turn ``tiny_synthetic`` into a model that trains in milliseconds.
TINY_OVERRIDES = (
    "model.backbone_width=8", "model.fpn_channels=16", "model.num_convs=1",
    "model.strides=(8, 16, 32)", "data.synthetic=None", "data.num_workers=0",
    "train.batch_size=2", "train.warmup_iters=2", "train.log_every=1", "train.epochs=1",
)


@pytest.fixture(scope="session")
def tiny_overrides() -> tuple[str, ...]:
    """:data:`TINY_OVERRIDES` (``--set`` items for a milliseconds-per-step model)."""
    return TINY_OVERRIDES


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    """A 64 px synthetic DOTA-format set: 4 train and 2 val images."""
    from paa_edu.data import SceneConfig, SyntheticPreset, write_synthetic_dataset
    root = tmp_path_factory.mktemp("tiny_data")
    preset = SyntheticPreset(64, 4, 2, SceneConfig((12.0, 40.0), (2, 4), 0.0, 0.0, 0.0))
    write_synthetic_dataset(root, preset, seed=0, progress=False)
    return root


@pytest.fixture
def tiny_cfg(tiny_data_root, tmp_path):
    """A fresh tiny :class:`paa_edu.config.Config` writing into ``tmp_path/run``."""
    from paa_edu.config import apply_overrides
    from paa_edu.presets import tiny_synthetic
    return apply_overrides(tiny_synthetic(), [*TINY_OVERRIDES, f"data.root={tiny_data_root}",
                                              f"train.out_dir={tmp_path / 'run'}"])


@pytest.fixture
def fixed_batch():
    """Two 64 x 64 images with 2 and 1 rotated GTs drawn as bright rectangles."""
    from paa_edu.geometry import points_in_rboxes
    generator = torch.Generator().manual_seed(0)
    images = 0.1 * torch.randn(2, 3, 64, 64, generator=generator)  # (B, 3, H, W)
    boxes = [torch.tensor([[20.0, 22.0, 26.0, 12.0, 0.3], [44.0, 42.0, 30.0, 16.0, -0.2]]),
             torch.tensor([[32.0, 30.0, 36.0, 20.0, 0.9]])]
    labels = [torch.tensor([0, 1]), torch.tensor([2])]
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    pixels = torch.stack([xs.flatten(), ys.flatten()], dim=1) + 0.5  # (H*W, 2) pixel centres
    for b, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        inside = points_in_rboxes(pixels, image_boxes, eps=0.0)  # (G, H*W)
        for mask, label in zip(inside, image_labels):
            images[b, int(label)].view(-1)[mask] += 2.0
    targets = [{"boxes": bx, "labels": lb} for bx, lb in zip(boxes, labels)]
    return images, targets


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """A test that leaves Ctrl-C or SIGTERM handled differently fails here, by name: the
    Ctrl-C tests of training need the default handlers (an ignored SIGINT stays ignored)."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    after = {sig: signal.getsignal(sig) for sig in before}
    assert after == before, f"signal handlers changed: {before} -> {after}"
