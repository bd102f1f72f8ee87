"""A trained detector over a whole dataset: detections per image (under ``torchrun`` each rank
predicts its shard, all get them back in order), and the DOTA metrics."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from paa_edu.data.loader import loader_options
from paa_edu.engine import distributed
from paa_edu.evaluation.rotated_ap import evaluate_rotated
from paa_edu.model import RotatedPAADetector, rescale_detections


@torch.no_grad()
def predict_dataset(model: RotatedPAADetector, dataset, device=None, batch_size: int = 4,
                    progress: bool = False, num_workers: int = 0) -> list[dict]:
    """Detections for every image of ``dataset``, in original image pixels, on the CPU."""
    device = device or next(model.parameters()).device
    model.eval()
    mine = Subset(dataset, distributed.shard(len(dataset)))
    loader = DataLoader(mine, batch_size=batch_size, shuffle=False,
                        **loader_options(num_workers, device, persistent=False))
    detections = []
    for images, targets in tqdm(loader, desc="eval", leave=False,
                                disable=not (progress and distributed.is_main())):
        images = images.to(device, non_blocking=True)
        # our detector reads each image's unpadded size from the targets (uint8 padding)
        ours = isinstance(getattr(model, "module", model), RotatedPAADetector)
        for det, target in zip(model(images, targets) if ours else model(images), targets):
            det = rescale_detections(det, target["scale_factor"])
            detections.append({k: v.cpu() for k, v in det.items()})
    return distributed.unshard(distributed.gather_objects(detections))


def evaluate(model: RotatedPAADetector, dataset, device=None, batch_size: int = 4,
             progress: bool = False, num_workers: int = 0) -> dict:
    """:func:`~paa_edu.evaluation.rotated_ap.evaluate_rotated` of the model on ``dataset``
    (under torchrun rank 0 scores and sends the metrics to all)."""
    detections = predict_dataset(model, dataset, device, batch_size, progress, num_workers)
    metrics = None
    if distributed.is_main():
        metrics = evaluate_rotated(detections, ground_truths(dataset),
                                   num_classes=model.cfg.num_classes)
    return distributed.broadcast_object(metrics)


def ground_truths(dataset) -> list[dict]:
    """Per-image ground truths of a :class:`DOTADataset` or of a ``Subset`` of one."""
    if isinstance(dataset, Subset):
        every = dataset.dataset.ground_truths()
        return [every[i] for i in dataset.indices]
    return dataset.ground_truths()
