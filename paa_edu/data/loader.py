"""How batches are made and fed to the device: :func:`collate_batch` and the DataLoader settings
(each worker runs OpenCV and torch single-threaded, so N workers use N cores)."""
from __future__ import annotations

import cv2
import torch
import torch.nn.functional as F
from torch import Tensor


def collate_batch(samples: list[tuple[Tensor, dict]], size_divisor: int = 32
                  ) -> tuple[Tensor, list[dict]]:
    """Stack ``(image (3, H_i, W_i), target)`` samples into images (B, 3, H, W), zero-padded
    (bottom/right) to the largest H and W rounded up to ``size_divisor``; targets unchanged."""
    images = [image for image, _ in samples]
    height = -(-max(image.shape[1] for image in images) // size_divisor) * size_divisor
    width = -(-max(image.shape[2] for image in images) // size_divisor) * size_divisor
    batch = torch.stack([F.pad(image, (0, width - image.shape[2], 0, height - image.shape[1]))
                         for image in images])  # (B, 3, H, W)
    return batch, [target for _, target in samples]


def worker_init(worker_id: int) -> None:
    cv2.setNumThreads(0)
    torch.set_num_threads(1)


def loader_options(num_workers: int, device: torch.device | str, persistent: bool = True
                   ) -> dict:
    """Keyword arguments for a ``DataLoader`` feeding ``device`` (CUDA pins memory, so
    ``non_blocking`` copies overlap the GPU's work); ``persistent`` keeps workers across epochs."""
    return {"collate_fn": collate_batch, "num_workers": num_workers,
            "pin_memory": torch.device(device).type == "cuda",
            "persistent_workers": persistent and num_workers > 0,
            "worker_init_fn": worker_init if num_workers > 0 else None}
