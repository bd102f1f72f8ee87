"""Results tables in the seed's columns (Method, angle, Backbone, ..., AP50, AP75, mAP), for the
CLI, the benchmarks and the notebooks: ``format_results_table([results_row(name, metrics)])``.
Metrics are fractions in [0, 1], printed as percentages with two decimals."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paa_edu.config import Config

#: (row key, column header) in the seed's order.
COLUMNS = (("method", "Method"), ("angle", "angle"), ("backbone", "Backbone"),
           ("lr_schd", "Lr schd"), ("dataset", "Dataset"), ("preprocess", "preprocess"),
           ("AP50", "$AP_{0.5}$"), ("AP75", "$AP_{0.75}$"), ("mAP", "$mAP$"))
METRIC_KEYS = ("AP50", "AP75", "mAP")

_SEED = {"angle": "v2", "backbone": "ResNet50", "lr_schd": "1x",
         "dataset": "DOTA-v1.0,trainval", "preprocess": "1024x1024,200"}
#: REFERENCE ONLY, never measured here: the seed's two rows (Xuyihaoby/rotate_detection
#: configs/rpaa/README.md, DOTA-v1.0 test server). BOTH are rotated PAA: "RetinaNet-(maxiou)"
#: from MaxIoU 0.1/0.1 candidates, "RetinaNet-(ATSS)" from ATSS top-9 candidates.
SEED_TABLE_ROWS = (
    {"method": "RetinaNet-(maxiou)", **_SEED, "AP50": 0.7250, "AP75": 0.4210, "mAP": 0.4197},
    {"method": "RetinaNet-(ATSS)", **_SEED, "AP50": 0.7275, "AP75": 0.4346, "mAP": 0.4246},
)


def results_row(method: str, metrics: dict, angle: str = "le135", backbone: str = "ResNet50",
                lr_schd: str = "1x", dataset: str = "DOTA-v1.0,trainval",
                preprocess: str = "1024x1024,200") -> dict:
    """One table row (the keys of :data:`COLUMNS`) from ``metrics``' fractions and the rest."""
    missing = [key for key in METRIC_KEYS if key not in metrics]
    if missing:
        raise ValueError(f"metrics lacks {missing}; got keys {sorted(metrics)}")
    return {"method": method, "angle": angle, "backbone": backbone, "lr_schd": lr_schd,
            "dataset": dataset, "preprocess": preprocess,
            **{key: float(metrics[key]) for key in METRIC_KEYS}}


def _cell(value, key: str) -> str:
    """Metrics as ``72.50`` (repeated runs, e.g. seeds, as ``72.50 ± 0.31``), text as is."""
    if key not in METRIC_KEYS:
        return str(value)
    percent = 100 * np.asarray(value, dtype=float)  # () or (repeats,)
    if np.isnan(percent).any():
        return "n/a"
    if percent.ndim == 0:
        return f"{percent:.2f}"
    spread = percent.std(ddof=1) if len(percent) > 1 else 0.0  # sample std
    return f"{percent.mean():.2f} ± {spread:.2f}"


def format_results_table(rows: list[dict] | tuple[dict, ...]) -> str:
    """Rows (:func:`results_row`; a list of values reads ``mean ± std``) as a markdown table."""
    if len(rows) == 0:
        raise ValueError("rows is empty")
    cells = [[_cell(row[key], key) for key, _ in COLUMNS] for row in rows]
    headers = [header for _, header in COLUMNS]
    widths = [max(len(h), *(len(r[j]) for r in cells)) for j, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    separator = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(headers), separator] + [line(r) for r in cells])


def local_eval_note(split: str) -> str:
    """One line printed under a locally measured table: what its numbers are not."""
    return (f"Local evaluation on the labelled patches of {split!r} (VOC07 AP per patch, not "
            "merged images): not DOTA test-server numbers, so not comparable with the seed's "
            "72.50 / 72.75 AP50.")


def format_per_class_table(metrics: dict, class_names: list[str] | tuple[str, ...]) -> str:
    """Markdown table of each class's GT count, AP50 and mAP from ``evaluate_rotated``."""
    per_class = np.asarray(metrics["per_class_AP"], dtype=float)  # (T, C)
    if len(class_names) != per_class.shape[1]:
        raise ValueError(f"got {len(class_names)} class names for {per_class.shape[1]} classes")
    width = max(len("class"), *(len(n) for n in class_names))
    lines = [f"| {'class'.ljust(width)} |   GT |   AP50 |    mAP |",
             f"| {'-' * width} | ---- | ------ | ------ |"]
    for cls, name in enumerate(class_names):
        if metrics["num_gts"][cls] == 0:
            ap50 = mean_ap = "   n/a"
        else:
            ap50 = f"{100 * metrics['per_class_AP50'][cls]:6.2f}"
            mean_ap = f"{100 * per_class[:, cls].mean():6.2f}"
        num_gts = metrics["num_gts"][cls]
        lines.append(f"| {name.ljust(width)} | {num_gts:4d} | {ap50} | {mean_ap} |")
    return "\n".join(lines)


#: Table labels of our runs; the seed's rows are both PAA, so plain assigners are baselines.
METHOD_NAMES = {("maxiou", "maxiou"): "MaxIoU 0.5/0.4 (baseline)",
                ("atss", "atss"): "ATSS (baseline)",
                ("paa", "maxiou"): "PAA (MaxIoU init)", ("paa", "atss"): "PAA (ATSS init)"}


def method_name(cfg: Config) -> str:
    """Table label of a config, e.g. ``PAA (ATSS init)`` or ``ATSS (baseline)``."""
    m = cfg.model
    return METHOD_NAMES[(m.assigner, m.paa_init if m.assigner == "paa" else m.assigner)]


def table_row(cfg: Config, metrics: dict, split: str = "val") -> dict:
    """A :func:`results_row` describing ``cfg`` (method, backbone, schedule, data)."""
    m = cfg.model
    backbone = f"ResNet{m.depth}" + ("" if m.backbone_width == 64 else f"-w{m.backbone_width}")
    dataset = (f"synthetic-{cfg.data.synthetic},{split}" if cfg.data.synthetic
               else f"{Path(cfg.data.root).name},{split}")
    schedule = (f"{cfg.train.max_iters}it" if cfg.train.max_iters is not None
                else f"{cfg.train.epochs}ep")  # a run capped by max_iters says so
    return results_row(method_name(cfg), metrics, angle=m.angle_version, backbone=backbone,
                       lr_schd=schedule, dataset=dataset,
                       preprocess=str(cfg.data.max_size or "orig"))
