"""Run a trained checkpoint on image files: DOTA Task1 result files and annotated PNGs.

This is what ``paa-edu predict`` does. Images are resized like the training data
(``cfg.data.max_size``) and the detections are mapped back to original pixels.
"""
from __future__ import annotations

from pathlib import Path

import mmcv
import torch

from paa_edu.data import TransformConfig, apply_transforms, list_images, write_task1_submission
from paa_edu.model import rescale_detections
from paa_edu.checkpoint import load_model
from paa_edu.train import class_names


def image_paths(input_path: str | Path) -> list[Path]:
    """An image file, a folder of images, or a DOTA split folder (with ``images/``)."""
    path = Path(input_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return list_images(path / "images" if (path / "images").is_dir() else path)
    raise FileNotFoundError(f"--input {path}: no such file or folder")


@torch.no_grad()
def predict_image(model, image, cfg) -> dict:
    """Detections of one (H, W, 3) uint8 RGB image, in its own pixels.

    Returns:
        dict ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) on the CPU.
    """
    transforms = TransformConfig(max_size=cfg.data.max_size, hflip_prob=0.0, vflip_prob=0.0)
    tensor, _, meta = apply_transforms(image, torch.zeros(0, 5), transforms, train=False,
                                       version=cfg.model.angle_version)  # (3, H', W')
    device = next(model.parameters()).device
    det = model(tensor[None].to(device))[0]
    det = rescale_detections(det, meta["scale_factor"])
    return {k: v.cpu() for k, v in det.items()}


def predict_paths(checkpoint: str | Path, input_path: str | Path, out_dir: str | Path,
                  device: str = "cpu", score_thr: float = 0.3, max_png: int = 20
                  ) -> list[Path]:
    """Predict every image under ``input_path``; write ``Task1_<class>.txt`` and PNGs.

    Args:
        checkpoint: a ``last.pth`` written by :func:`paa_edu.train.train`.
        input_path: an image, a folder of images, or a split folder with ``images/``.
        out_dir: output folder (created).
        device: ``"cpu"`` or ``"cuda"``.
        score_thr: only detections above this are drawn (all are written to Task1 files).
        max_png: annotate at most this many images.
    Returns:
        the paths written.
    """
    import matplotlib.pyplot as plt

    from paa_edu.viz import plot_detections
    model, cfg = load_model(checkpoint, device)
    names = class_names(cfg)
    paths = image_paths(input_path)
    if not paths:
        raise FileNotFoundError(f"--input {input_path}: no images found")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    detections, written = {}, []
    for i, path in enumerate(paths):
        image = mmcv.imread(str(path), channel_order="rgb")  # (H, W, 3) uint8
        if image is None:
            raise ValueError(f"{path}: cannot read the image")
        detections[path.stem] = predict_image(model, image, cfg)
        if i < max_png:
            fig = plot_detections(image, detections[path.stem], names, score_thr=score_thr)
            png = out_dir / f"{path.stem}_det.png"
            fig.savefig(png, dpi=100)
            plt.close(fig)
            written.append(png)
    written += write_task1_submission(out_dir / "task1", detections, names)
    return written
