"""One rank of the multi-process tests (tests/test_distributed.py starts it with torchrun).

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py \
        OUT_DIR DATA_ROOT [--set key=value ...] [--nan-on-rank R] [--eval]

Trains ``tiny_synthetic`` (with the given overrides) and saves what this rank ends with to
``OUT_DIR/rank{R}.pt``: its parameters, its loss history and, with ``--eval``, the detections
and metrics of the distributed evaluation. ``--nan-on-rank R`` makes rank R's loss NaN from
the second iteration on; every rank then writes the error it stopped with to ``rank{r}.err``.
``--stop-on-rank R`` asks rank R alone to stop (as Ctrl-C would) during its third iteration;
every rank writes the message it stopped with to ``rank{r}.stop``, then the run is resumed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("data_root")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--nan-on-rank", type=int)
    parser.add_argument("--stop-on-rank", type=int)
    parser.add_argument("--eval", action="store_true")
    args = parser.parse_args()

    from paa_edu.config import apply_overrides
    from paa_edu.data.build import build_dataset
    from paa_edu.engine import distributed
    from paa_edu.engine.inference import evaluate, predict_dataset
    from paa_edu.engine.run_dir import TrainingInterrupted
    from paa_edu.engine.train import train
    from paa_edu.presets import tiny_synthetic
    out = Path(args.out_dir)
    cfg = apply_overrides(tiny_synthetic(), [f"data.root={args.data_root}",
                                             f"train.out_dir={out / 'run'}", *args.overrides])
    if args.nan_on_rank is not None:
        _on_loss_call(args.nan_on_rank, 2, _make_nan)
    if args.stop_on_rank is not None:
        _on_loss_call(args.stop_on_rank, 3, _request_stop())
    try:
        try:
            result = train(cfg, progress=False)
        except TrainingInterrupted as err:
            (out / f"rank{distributed.rank()}.stop").write_text(str(err))
            result = train(cfg, resume=True, progress=False)
    except FloatingPointError as err:
        (out / f"rank{distributed.rank()}.err").write_text(str(err))
        distributed.shutdown()
        return 3
    saved = {"state": {k: v.detach().cpu() for k, v in result["model"].state_dict().items()},
             "history": result["history"], "world_size": distributed.world_size()}
    if args.eval:
        val = build_dataset(cfg, "val", train=False)
        saved["detections"] = predict_dataset(result["model"], val)
        saved["metrics"] = evaluate(result["model"], val)
    torch.save(saved, out / f"rank{distributed.rank()}.pt")
    distributed.shutdown()
    return 0


def _on_loss_call(rank: int, call: int, action) -> None:
    """Run ``action(losses)`` on rank ``rank`` from its ``call``-th loss computation on."""
    import paa_edu.model.detector as detector
    from paa_edu.engine import distributed
    real, calls = detector.detection_losses, []

    def losses(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(1)
        if distributed.rank() == rank and len(calls) >= call:
            action(out)
        return out

    detector.detection_losses = losses


def _make_nan(losses: dict) -> None:
    losses["loss_cls"] = losses["loss_cls"] * float("nan")


def _request_stop():
    """An action that sets the running train()'s stop flag, as its SIGTERM handler would."""
    from contextlib import contextmanager

    import paa_edu.engine.run_dir as run_dir
    real, current = run_dir.stop_requests, {}

    @contextmanager
    def recorded():
        with real() as stop:
            current["stop"] = stop
            yield stop

    run_dir.stop_requests = recorded

    def action(losses: dict) -> None:  # once: the resumed run must not be stopped again
        if not current.get("fired"):
            current["stop"]["signal"], current["fired"] = "SIGTERM", True
    return action


if __name__ == "__main__":
    sys.exit(main())
