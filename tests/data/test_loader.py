"""Loader settings and the uint8 route: images normalised on the device equal host-normalised ones.

Oracle: the host-side float path of ``apply_transforms`` (mmcv's ``imnormalize``, then zero
padding), bit for bit.
"""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    DOTADataset,
    SceneConfig,
    SyntheticPreset,
    TransformConfig,
    collate_batch,
    write_synthetic_dataset,
)
from paa_edu.data.loader import loader_options, worker_init
from paa_edu.model import RotatedPAADetector
from paa_edu.presets import tiny_synthetic


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory):
    preset = SyntheticPreset(72, 5, 1, SceneConfig((10, 30), (1, 4)))
    root = tmp_path_factory.mktemp("loader")
    return write_synthetic_dataset(root, preset, seed=2, progress=False)["train"]


def test_loader_options():
    cpu = loader_options(0, "cpu")
    assert cpu["num_workers"] == 0 and not cpu["pin_memory"] and not cpu["persistent_workers"]
    assert cpu["worker_init_fn"] is None and cpu["collate_fn"] is collate_batch
    cuda = loader_options(4, torch.device("cuda"))
    assert cuda["pin_memory"] and cuda["persistent_workers"] and cuda["worker_init_fn"]
    assert not loader_options(2, "cuda", persistent=False)["persistent_workers"]


def test_worker_init_sets_one_thread_each():
    import cv2
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        worker_init(0)
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() in (0, 1)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


@pytest.mark.parametrize("max_size", [None, 50])  # 50: resized, then padded to 64
def test_uint8_batches_normalised_by_the_model_equal_host_normalised(split_dir, max_size):
    host = DOTADataset(split_dir, SYNTHETIC_CLASSES, train=False,
                       transforms=TransformConfig(max_size=max_size))
    raw = DOTADataset(split_dir, SYNTHETIC_CLASSES, train=False,
                      transforms=TransformConfig(max_size=max_size, normalize=False))
    expected, _ = collate_batch([host[i] for i in range(3)])
    images, targets = collate_batch([raw[i] for i in range(3)])
    assert images.dtype == torch.uint8 and expected.dtype == torch.float32
    model = RotatedPAADetector(tiny_synthetic().model)
    shapes = [t["img_shape"] for t in targets]
    if max_size is not None:
        assert any(h < images.shape[2] or w < images.shape[3] for h, w in shapes)  # padded
    assert torch.equal(model.normalize_images(images, shapes), expected)
    assert model.normalize_images(expected) is expected  # float input: already normalised


def test_the_normalisation_constants_are_not_in_the_state_dict():
    model = RotatedPAADetector(tiny_synthetic().model)
    assert {"pixel_mean", "pixel_std"} <= {name for name, _ in model.named_buffers()}
    assert not any("pixel_" in key for key in model.state_dict())


def test_custom_mean_needs_host_normalisation():
    with pytest.raises(ValueError, match="normalize=True"):
        TransformConfig(normalize=False, mean=(0.0, 0.0, 0.0))


def test_worker_loader_gives_the_same_batches(split_dir):
    dataset = DOTADataset(split_dir, SYNTHETIC_CLASSES, train=False,
                          transforms=TransformConfig(normalize=False))
    serial = list(DataLoader(dataset, batch_size=2, **loader_options(0, "cpu")))
    workers = list(DataLoader(dataset, batch_size=2, **loader_options(2, "cpu")))
    assert len(serial) == len(workers) == 3
    for (a, ta), (b, tb) in zip(serial, workers):
        assert torch.equal(a, b)
        assert [t["image_id"] for t in ta] == [t["image_id"] for t in tb]
