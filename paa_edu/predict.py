"""``paa-edu predict``: a trained checkpoint on image files -> DOTA Task1 files + annotated PNGs.

1. List the images (a file, a folder, or a split folder with ``images/``) and check every name
   first (Task-1 lines cannot hold whitespace; with ``merge`` every name must be a patch name).
2. Batched inference, :data:`CHUNK` files at a time, resized like the training data;
   detections are mapped back to each file's pixels.
3. Without ``merge``: ``<out>/task1/Task1_<class>.txt`` with one entry per file, and annotated
   PNGs of the first ``max_png`` files. With ``merge`` (patches from ``paa-edu split``): each
   chunk holds whole original images, merged (rotated NMS 0.1) before the next chunk, so memory
   stays bounded; ``<out>/Task1_<class>.txt`` is ready to zip for the DOTA server.

A Task1 folder already holding ``Task1_*.txt`` files (a zip would ship another run's classes)
is refused before the inference unless ``overwrite``; every file is written whole or not at all."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.utils.data import Dataset
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
from paa_edu.engine.checkpoint import load_model
from paa_edu.engine.inference import predict_dataset
from paa_edu.engine.train import resolve_device
from paa_edu.viz import plot_detections

MERGE_IOU = 0.1  # rotated NMS threshold of the merge, as mmrotate and the devkit
CHUNK = 256  # files per predict_dataset call (whole original images with merge)


def image_paths(input_path: str | Path, merge: bool) -> list[Path]:
    """The images of a file, a folder or a split folder, names checked as in step 1; two files of
    one stem (``a.png``, ``a.jpg``) are refused."""
    path = Path(input_path)
    if path.is_dir():
        paths = list_images(path / "images" if (path / "images").is_dir() else path)
    elif path.is_file():
        paths = [path]
    else:
        raise FileNotFoundError(f"--input {path}: no such file or folder")
    if not paths:
        raise FileNotFoundError(f"--input {path}: no images found")
    seen: dict[str, Path] = {}
    for file in paths:
        if file.stem in seen:
            raise ValueError(f"{seen[file.stem]} and {file} have the same name {file.stem!r}")
        seen[file.stem] = file
        check_image_name(file.stem, f"{file}: image name")
        if merge:
            try:
                parse_patch_name(file.stem)
            except ValueError as err:
                raise ValueError(f"--merge: {file}: {err}") from None
    return paths


class ImageFiles(Dataset):
    """Image files as model inputs: ``(image (3, H', W'), meta)``, ``meta`` holding the
    ``img_shape`` and the ``scale_factor`` (resized / original) of the file."""

    def __init__(self, paths: list[Path], cfg):
        self.paths = list(paths)
        self.transforms = TransformConfig(max_size=cfg.data.max_size, hflip_prob=0.0,
                                          vflip_prob=0.0)  # the training resize, without flips
        self.version = cfg.model.angle_version

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, dict]:
        tensor, _, meta = apply_transforms(read_image(self.paths[index]), torch.zeros(0, 5),
                                           self.transforms, train=False, version=self.version)
        return tensor, meta  # (3, H', W')


def predict_files(model, cfg, paths: list[Path], device: torch.device, batch_size: int = 4,
                  num_workers: int = 0, progress: bool = True, merge: bool = False
                  ) -> dict[str, dict]:
    """``{stem: detections}`` of the files (``merge``: of their original images; steps 2, 3), on
    the CPU, in those pixels."""
    groups: dict[str, list[Path]] = {}  # original image -> its files (one without merge)
    for path in paths:
        stem = parse_patch_name(path.stem).stem if merge else path.stem
        groups.setdefault(stem, []).append(path)
    results, chunk = {}, []
    with tqdm(total=len(paths), desc="predict", unit="image", disable=not progress) as bar:
        for count, files in enumerate(groups.values(), 1):
            chunk += files
            if len(chunk) < CHUNK and count < len(groups):
                continue
            detections = predict_dataset(model, ImageFiles(chunk, cfg), device, batch_size,
                                         num_workers=num_workers)
            named = {path.stem: det for path, det in zip(chunk, detections)}
            results.update(merge_patch_detections(named, MERGE_IOU) if merge else named)
            bar.update(len(chunk))
            chunk = []
    return results


def predict_paths(checkpoint: str | Path, input_path: str | Path, out_dir: str | Path,
                  device: str = "auto", score_thr: float = 0.3, max_png: int = 20,
                  merge: bool = False, batch_size: int = 4, num_workers: int = 0,
                  progress: bool = True, overwrite: bool = False) -> list[Path]:
    """Predict the images of ``input_path`` (:func:`image_paths`) with ``checkpoint`` (a
    ``last.pth``), write the results under ``out_dir`` (module docstring); return their paths.
    ``score_thr`` only limits what is drawn, on the first ``max_png`` images; ``overwrite`` removes
    the earlier ``Task1_*.txt`` files this run does not rewrite, after writing its own."""
    out_dir = Path(out_dir)
    paths = image_paths(input_path, merge)
    task1_dir = out_dir if merge else out_dir / "task1"
    earlier = sorted(task1_dir.glob("Task1_*.txt")) if task1_dir.is_dir() else []
    if earlier and not overwrite:
        raise ValueError(f"{task1_dir} already holds {len(earlier)} Task1 file(s) of an earlier "
                         f"run (e.g. {earlier[0].name}), which a zip of Task1_*.txt would "
                         f"ship; use an empty --out, or pass --overwrite to replace them")
    torch_device = resolve_device(device)
    model, cfg = load_model(checkpoint, torch_device)
    names = class_names(cfg)
    detections = predict_files(model, cfg, paths, torch_device, batch_size, num_workers,
                               progress, merge)
    written = [] if merge else write_pngs(paths[:max_png], detections, names, out_dir,
                                          score_thr)
    written += write_task1_submission(task1_dir, detections, names)
    for path in set(earlier) - set(written):  # an earlier run's class this one does not have
        path.unlink(missing_ok=True)
    return written


def write_pngs(paths: list[Path], detections: dict[str, dict], names, out_dir: Path,
               score_thr: float) -> list[Path]:
    """``<stem>_det.png``: each image with its detections above ``score_thr`` drawn."""
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
