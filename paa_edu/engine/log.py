"""The training log: ``log.csv`` (each iteration once: on resume, rows past the checkpoint move to
``log.dropped.csv``), TensorBoard when installed, and a watch for a diverging loss."""
from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from paa_edu.data.files import atomic_write

LOG_NAME = "log.csv"
DROPPED_NAME = "log.dropped.csv"
LOG_FIELDS = ("epoch", "iter", "lr", "loss", "loss_cls", "loss_bbox", "loss_iou", "num_pos",
              "num_gts", "time", "val_AP50", "val_mAP", "note")


class TrainLog:
    """``log.csv`` (appended to on resume) plus TensorBoard scalars when available;
    ``enabled=False`` (the ranks but 0 under torchrun) writes nothing."""

    def __init__(self, out_dir: Path, append: bool, enabled: bool = True):
        self.file = self.tb = None
        if not enabled:
            return
        new = not (append and (out_dir / LOG_NAME).is_file())
        self.file = open(out_dir / LOG_NAME, "w" if new else "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=LOG_FIELDS, extrasaction="ignore")
        if new:
            self.writer.writeheader()
            self.file.flush()
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out_dir / "tb"))
        except ImportError:
            pass

    def log(self, row: dict) -> None:
        if self.file is None:
            return
        self.writer.writerow(row)
        self.file.flush()
        if self.tb is not None:
            for key in LOG_FIELDS[2:-1]:
                if key in row and key != "time":
                    self.tb.add_scalar(f"train/{key}", row[key], row["iter"])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


def trim_log(out_dir: Path, iteration: int) -> int:
    """Move the rows of ``log.csv`` past ``iteration`` to ``log.dropped.csv``; return how many."""
    path = out_dir / LOG_NAME
    if not path.is_file():
        return 0
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keep = [r for r in rows if _iter_of(r) <= iteration]
    dropped = [r for r in rows if _iter_of(r) > iteration]
    if dropped:
        side = out_dir / DROPPED_NAME
        new = not side.is_file()
        with open(side, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerows(dropped)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=LOG_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(keep)
    atomic_write(path, lambda handle: handle.write(text.getvalue().encode()))
    return len(dropped)


def _iter_of(row: dict) -> int:
    try:
        return int(row.get("iter") or 0)
    except ValueError:  # a row cut by a crash in the middle of a write
        return 1 << 62


class DivergenceWatch:
    """Warn (once) when the loss exceeds ``factor`` x its early level: the median of the first
    ``window`` losses (of those seen so far while fewer: a run that diverges at its third step
    is caught there). Its state travels in the checkpoint, as the uninterrupted run's would."""

    def __init__(self, window: int = 20, factor: float = 100.0):
        self.window, self.factor = window, factor
        self.early: list[float] = []
        self.warned = False

    def update(self, loss: float, where: str) -> str | None:
        note = None
        if not self.warned and len(self.early) >= 2:
            level = statistics.median(self.early)
            if loss > self.factor * max(level, 1e-12):
                self.warned = True
                note = (f"warning: the loss is diverging: {loss:.3g} at {where} is "
                        f"{loss / level:.0f}x its early level {level:.3g} (median of the first "
                        f"{len(self.early)} iterations); try a lower train.lr")
        if len(self.early) < self.window:
            self.early.append(loss)
        return note

    def state_dict(self) -> dict:
        return {"early": list(self.early), "warned": self.warned}

    def load_state_dict(self, state: dict) -> None:
        self.early, self.warned = list(state["early"]), bool(state["warned"])
