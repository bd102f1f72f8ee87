"""Run a trained checkpoint on image files: DOTA Task1 result files and annotated PNGs.

This is what ``paa-edu predict`` does:

1. List the images (a file, a folder, or a split folder with ``images/``) and check every name
   first (Task-1 lines cannot hold whitespace; with ``merge`` every name must be a patch name),
   so a bad folder fails at once rather than after the inference.
2. Batched inference (a ``DataLoader``, ``batch_size`` images per forward pass, a progress bar).
   Images are resized like the training data (``cfg.data.max_size``) and the detections are
   mapped back to each file's pixels.
3. Without ``merge``: ``<out>/task1/Task1_<class>.txt`` with one entry per file, and annotated
   PNGs of the first ``max_png`` files. With ``merge`` (a folder of patches from
   ``paa-edu split``): the patch detections of each original image are merged
   (:func:`paa_edu.data.merge_patch_detections`, rotated NMS 0.1, devkit rate names followed)
   and ``<out>/Task1_<class>.txt`` is written, ready to zip for the DOTA server.

A Task1 folder that already holds ``Task1_*.txt`` files is refused before the inference (a zip
of ``Task1_*.txt`` would ship another run's classes) unless ``overwrite``; every file is
written whole or not at all (:func:`paa_edu.data.files.atomic_write`).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from paa_edu.data import (
    TransformConfig,
    apply_transforms,
    check_image_name,
    list_images,
    merge_patch_detections,
    parse_patch_name,
    write_task1_submission,
)
from paa_edu.data.build import class_names
from paa_edu.data.dota import read_image
from paa_edu.data.files import atomic_write
from paa_edu.data.loader import loader_options
from paa_edu.engine.checkpoint import load_model
from paa_edu.engine.train import resolve_device
from paa_edu.model import rescale_detections
from paa_edu.viz import plot_detections

MERGE_IOU = 0.1  # rotated NMS threshold of the merge, as mmrotate and the devkit


def image_paths(input_path: str | Path) -> list[Path]:
    """An image file, a folder of images, or a DOTA split folder (with ``images/``)."""
    path = Path(input_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return list_images(path / "images" if (path / "images").is_dir() else path)
    raise FileNotFoundError(f"--input {path}: no such file or folder")


def check_names(paths: list[Path], merge: bool) -> None:
    """Refuse names a Task-1 file cannot hold, two files of one name (``a.png``, ``a.jpg``),
    and (``merge``) names that are not patches."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise ValueError(f"{seen[path.stem]} and {path} have the same name {path.stem!r}")
        seen[path.stem] = path
        check_image_name(path.stem, f"{path}: image name")
        if merge:
            try:
                parse_patch_name(path.stem)
            except ValueError as err:
                raise ValueError(f"--merge: {path}: {err}") from None


def inference_transforms(cfg) -> TransformConfig:
    """The training resize without flips."""
    return TransformConfig(max_size=cfg.data.max_size, hflip_prob=0.0, vflip_prob=0.0)


class ImageFiles(Dataset):
    """Image files as model inputs: ``(image (3, H', W'), meta)`` with ``meta`` holding the
    file's ``image_id`` (stem) and ``scale_factor`` (resized / original)."""

    def __init__(self, paths: list[Path], cfg):
        self.paths = list(paths)
        self.transforms = inference_transforms(cfg)
        self.version = cfg.model.angle_version

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, dict]:
        path = self.paths[index]
        tensor, _, meta = apply_transforms(read_image(path), torch.zeros(0, 5), self.transforms,
                                           train=False, version=self.version)  # (3, H', W')
        return tensor, {"image_id": path.stem, "scale_factor": meta["scale_factor"]}


@torch.no_grad()
def iter_predictions(model, cfg, paths: list[Path], device: torch.device, batch_size: int = 4,
                     num_workers: int = 0, progress: bool = True) -> Iterator[tuple[str, dict]]:
    """``(image stem, detections)`` for every path, in order (step 2 of the module docstring).

    Detections: dict ``boxes`` (K, 5) in the file's own pixels, ``scores`` (K,), ``labels``
    (K,), on the CPU.
    """
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    loader = DataLoader(ImageFiles(paths, cfg), batch_size=batch_size, shuffle=False,
                        **loader_options(num_workers, device, persistent=False))
    model.eval()
    for images, metas in tqdm(loader, desc="predict", unit="batch", disable=not progress):
        for det, meta in zip(model(images.to(device, non_blocking=True)), metas):
            det = rescale_detections(det, meta["scale_factor"])
            yield meta["image_id"], {k: v.cpu() for k, v in det.items()}


@torch.no_grad()
def predict_image(model, image: np.ndarray, cfg) -> dict:
    """Detections of one (H, W, 3) uint8 RGB image, in its own pixels (as the folder path)."""
    tensor, _, meta = apply_transforms(image, torch.zeros(0, 5), inference_transforms(cfg),
                                       train=False, version=cfg.model.angle_version)
    device = next(model.parameters()).device
    det = rescale_detections(model(tensor[None].to(device))[0], meta["scale_factor"])
    return {k: v.cpu() for k, v in det.items()}


def merge_predictions(predictions: Iterator[tuple[str, dict]]) -> dict[str, dict]:
    """Merge patch detections image by image (patches of one image arrive together).

    Holding one original image's patches at a time keeps memory bounded on the full DOTA
    test set; the result is the same as one :func:`paa_edu.data.merge_patch_detections` call.
    """
    merged: dict[str, dict] = {}
    group: dict[str, dict] = {}
    current = None
    for name, det in predictions:
        stem = parse_patch_name(name).stem
        if stem != current and group:
            merged.update(merge_patch_detections(group, MERGE_IOU))
            group = {}
        if stem in merged:
            raise ValueError(f"patch {name!r} of image {stem!r} arrived after that image was "
                             f"merged (give its patches in order)")
        current, group[name] = stem, det
    if group:
        merged.update(merge_patch_detections(group, MERGE_IOU))
    return merged


def predict_paths(checkpoint: str | Path, input_path: str | Path, out_dir: str | Path,
                  device: str = "auto", score_thr: float = 0.3, max_png: int = 20,
                  merge: bool = False, batch_size: int = 4, num_workers: int = 0,
                  progress: bool = True, overwrite: bool = False) -> list[Path]:
    """Predict every image under ``input_path`` and write the results (module docstring).

    Args:
        checkpoint: a ``last.pth`` written by :func:`paa_edu.engine.train.train`.
        input_path: an image, a folder of images, or a split folder with ``images/``.
        out_dir: output folder (created; an existing file there is an error).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        score_thr: only detections above this are drawn (all are written to Task1 files).
        max_png: annotate at most this many images (none with ``merge``).
        merge: the inputs are patches: merge them into their original images.
        batch_size, num_workers: of the inference ``DataLoader``.
        progress: show a progress bar.
        overwrite: the Task1 folder may hold ``Task1_*.txt`` files of an earlier run; those
            this run does not rewrite are removed after it wrote its own. Without it such
            files are refused before any inference (a zip of ``Task1_*.txt`` would ship them).
    Returns:
        the paths written.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is an existing file, not a folder")
    paths = image_paths(input_path)
    if not paths:
        raise FileNotFoundError(f"--input {input_path}: no images found")
    check_names(paths, merge)
    task1_dir = out_dir if merge else out_dir / "task1"
    earlier = earlier_task1_files(task1_dir, overwrite)
    torch_device = resolve_device(device)
    model, cfg = load_model(checkpoint, torch_device)
    names = class_names(cfg)
    predictions = iter_predictions(model, cfg, paths, torch_device, batch_size, num_workers,
                                   progress)
    if merge:
        written = write_task1_submission(task1_dir, merge_predictions(predictions), names)
    else:
        detections = dict(predictions)
        written = write_pngs(paths[:max_png], detections, names, out_dir, score_thr)
        written += write_task1_submission(task1_dir, detections, names)
    for path in set(earlier) - set(written):  # an earlier run's class this one does not have
        path.unlink(missing_ok=True)
    return written


def earlier_task1_files(folder: Path, overwrite: bool) -> list[Path]:
    """The ``Task1_*.txt`` files already in ``folder``; an error unless ``overwrite``."""
    earlier = sorted(folder.glob("Task1_*.txt")) if folder.is_dir() else []
    if earlier and not overwrite:
        raise ValueError(f"{folder} already holds {len(earlier)} Task1 file(s) of an earlier "
                         f"run (e.g. {earlier[0].name}), which a zip of Task1_*.txt would "
                         f"ship; use an empty --out, or pass --overwrite to replace them")
    return earlier


def write_pngs(paths: list[Path], detections: dict[str, dict], names, out_dir: Path,
               score_thr: float) -> list[Path]:
    """``<stem>_det.png``: each image with its detections above ``score_thr`` drawn."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        fig = plot_detections(read_image(path), detections[path.stem], names,
                              score_thr=score_thr)
        png = out_dir / f"{path.stem}_det.png"
        atomic_write(png, lambda handle: fig.savefig(handle, format="png", dpi=100),
                     durable=False)
        plt.close(fig)
        written.append(png)
    return written
