"""Training with several processes: the helpers alone, then real 2-process runs (gloo, CPU).

The 2-process tests start ``torchrun --standalone`` (a free port of its own) on a 64 px set of
8 training and 3 validation images, 1 torch thread per process; each run takes seconds.
The oracles are independent of the distributed code: a single-process prediction with the
same weights, each rank's own parameters, the CSV log and the iteration counts.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from paa_edu.cli import main
from paa_edu.config import BASE_BATCH_SIZE, apply_overrides
from paa_edu.data.build import build_dataset
from paa_edu.engine import distributed
from paa_edu.engine.checkpoint import load_model
from paa_edu.engine.inference import evaluate, predict_dataset
from paa_edu.engine.rng import rank_seed
from paa_edu.engine.train import base_lr, lr_at, train
from paa_edu.model import RotatedPAADetector
from paa_edu.model.losses import detection_losses, mean_over_ranks
from paa_edu.presets import r50_dota_1x, tiny_synthetic

WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 300  # a hang (ranks waiting on each other) fails the test instead of blocking


# ---- the helpers without a process group (what every single-process run calls) -------------
def test_without_torchrun_the_helpers_act_as_one_process():
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert rank_seed(7) == 7
    assert distributed.all_ranks(True) and not distributed.all_ranks(False)
    assert distributed.gather_objects({"a": 1}) == [{"a": 1}]
    assert distributed.broadcast_object(5) == 5
    assert distributed.init_from_env(torch.device("cpu")) == torch.device("cpu")
    distributed.barrier()


@pytest.fixture
def one_process_group(tmp_path):
    """A real gloo process group of one process (the collectives run, trivially)."""
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_helpers_in_a_real_group_of_one(one_process_group, tiny_cfg, fixed_batch):
    assert distributed.is_distributed() and distributed.world_size() == 1
    assert distributed.all_ranks(True) and not distributed.all_ranks(False)
    assert distributed.agree_on_problem(None) is None
    assert distributed.agree_on_problem("loss_cls") == "loss_cls"
    assert distributed.gather_objects([1, 2]) == [[1, 2]]
    assert torch.equal(mean_over_ranks(torch.tensor([2.0, 4.0])),
                       torch.tensor([2.0, 4.0]))
    model = RotatedPAADetector(tiny_cfg.model)
    wrapped = distributed.wrap_model(model, torch.device("cpu"))
    assert isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
    assert not wrapped.find_unused_parameters
    model.train().reduce_num_pos = True  # the all-reduce path of the loss normalisers
    images, targets = fixed_batch
    torch.manual_seed(0)
    averaged = wrapped(images, targets)
    model.reduce_num_pos = False
    torch.manual_seed(0)
    own = wrapped(images, targets)
    assert all(torch.allclose(averaged[k], own[k]) for k in own)  # W = 1: the same numbers
    with pytest.raises(ValueError, match="sync_bn=True needs CUDA"):
        distributed.wrap_model(model, torch.device("cpu"), sync_bn=True)


@pytest.mark.parametrize("num_items, world", [(0, 2), (1, 2), (3, 2), (7, 3), (8, 4)])
def test_shards_cover_every_item_exactly_once(num_items, world, monkeypatch):
    shards = []
    for r in range(world):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        shards.append([f"item{i}" for i in distributed.shard(num_items)])
    assert sorted(i for s in shards for i in s) == sorted(f"item{i}" for i in range(num_items))
    assert distributed.unshard(shards) == [f"item{i}" for i in range(num_items)]
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_auto_scale_lr_is_lr_times_total_batch_over_two(tiny_cfg):
    cfg = apply_overrides(tiny_cfg, ["train.lr=0.0025", "train.batch_size=2",
                                     "train.warmup_iters=0"])
    assert base_lr(cfg, 4) == 0.0025  # off by default: lr as given
    scaled = apply_overrides(cfg, ["train.auto_scale_lr=True"])
    # the seed (rpaa_r50_fpn_atss_v2_1x.py): lr 0.0025 on 1 GPU x samples_per_gpu=2
    assert BASE_BATCH_SIZE == r50_dota_1x().train.batch_size == 2
    assert r50_dota_1x().train.lr == 0.0025 and not r50_dota_1x().train.auto_scale_lr
    assert base_lr(scaled, 1) == pytest.approx(0.0025)
    assert base_lr(scaled, 8) == pytest.approx(0.02)  # 8 x 2 images: torchvision's 0.02
    assert lr_at(scaled, 100, 0, num_processes=4) == pytest.approx(0.01)


def test_reduce_num_pos_on_one_process_is_the_per_rank_loss():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 3, generator=generator)
    labels = torch.full((50,), -1)
    labels[:4] = torch.tensor([0, 1, 2, 1])
    boxes = torch.tensor([[10.0, 10, 8, 4, 0.1]]).repeat(4, 1)
    pred = boxes + 0.5 * torch.rand(4, 5, generator=generator)
    iou_logits = torch.randn(4, generator=generator)
    own = detection_losses(logits, labels, pred, boxes, iou_logits, num_images=2)
    mean = detection_losses(logits, labels, pred, boxes, iou_logits, num_images=2,
                            average_over_ranks=True)
    assert all(torch.allclose(own[k], mean[k]) for k in own)


@pytest.mark.parametrize("assigner, with_gts", [("paa", True), ("paa", False),
                                                ("atss", True), ("maxiou", True)])
def test_every_trainable_parameter_gets_a_gradient(tiny_cfg, fixed_batch, assigner, with_gts):
    """What ``find_unused_parameters=False`` relies on (a missing one would stop DDP)."""
    cfg = apply_overrides(tiny_cfg, [f"model.assigner={assigner}"])
    torch.manual_seed(0)
    model = RotatedPAADetector(cfg.model).train()
    images, targets = fixed_batch
    if not with_gts:  # no positives anywhere: the regression and IoU heads must still be used
        targets = [{"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=torch.long)}
                   for _ in targets]
    sum(model(images, targets).values()).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


# ---- two processes on the CPU (gloo) --------------------------------------------------------
@dataclass
class DDPData:
    root: Path  # the data set folder
    overrides: tuple[str, ...]  # conftest's tiny model


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory, tiny_overrides):
    """A 64 px synthetic set: 8 train images (2 steps of 2 per rank per epoch), 3 val (odd)."""
    from paa_edu.data import SceneConfig, SyntheticPreset, write_synthetic_dataset
    root = tmp_path_factory.mktemp("ddp_data")
    preset = SyntheticPreset(64, 8, 3, SceneConfig((12.0, 40.0), (2, 4), 0.0, 0.0, 0.0))
    write_synthetic_dataset(root, preset, seed=0, progress=False)
    return DDPData(root, tiny_overrides)


def _overrides(data: DDPData, out_dir: Path, *extra: str) -> list[str]:
    return [*data.overrides, f"data.root={data.root}", f"train.out_dir={out_dir}",
            "train.device=cpu", *extra]


def _torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                          cwd=Path(__file__).parents[1])


def _cli(data: DDPData, out_dir: Path, *extra: str, resume: bool = False):
    sets = [a for item in _overrides(data, out_dir, *extra) for a in ("--set", item)]
    return _torchrun(["-m", "paa_edu", "train", "--config", "tiny_synthetic", "--no-progress",
                      *sets, *(["--resume"] if resume else [])])


def _worker(data: DDPData, out_dir: Path, *extra: str, flags: tuple[str, ...] = ()):
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = [a for item in _overrides(data, out_dir / "run", *extra) for a in ("--set", item)]
    return _torchrun([str(WORKER), str(out_dir), str(data.root), *sets, *flags])


def _log_iters(out_dir: Path) -> list[int]:
    lines = (out_dir / "log.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,iter,")
    return [int(line.split(",")[1]) for line in lines[1:]]


@pytest.fixture(scope="module")
def reference_run(ddp_data, tmp_path_factory):
    """2 processes, 2 epochs in one go, through the worker (each rank saves its own state)."""
    out = tmp_path_factory.mktemp("reference")
    proc = _worker(ddp_data, out, "train.epochs=2", flags=("--eval",))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_ranks_end_with_identical_parameters(reference_run):
    _, (rank0, rank1) = reference_run
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert len(rank0["history"]) == 4  # 8 images / (2 ranks x 2) = 2 steps per epoch
    for name, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][name]), name
    untimed = [[{k: v for k, v in row.items() if k != "time"} for row in r["history"]]
               for r in (rank0, rank1)]
    assert untimed[0] == untimed[1]  # the logged numbers are means over ranks


def test_one_checkpoint_and_each_iteration_logged_once(reference_run):
    out, _ = reference_run
    files = sorted(p.name for p in (out / "run").iterdir() if p.is_file())
    assert files == [".lock", "last.pth", "log.csv"]  # no rank-suffixed copies, no .tmp
    assert _log_iters(out / "run") == [1, 2, 3, 4]
    state = torch.load(out / "run" / "last.pth", weights_only=False)
    assert (state["epoch"], state["iter"]) == (2, 4) and len(state["rng_per_rank"]) == 2


def test_evaluation_gathers_every_image_exactly_once(reference_run, ddp_data):
    out, (rank0, rank1) = reference_run
    model, cfg = load_model(out / "run" / "last.pth")
    val = build_dataset(cfg, "val", train=False)
    expected = predict_dataset(model, val)  # one process, no sharding: the oracle
    assert len(val) == 3 and len(rank0["detections"]) == 3
    for got, want in zip(rank0["detections"], expected):
        assert got.keys() == want.keys()
        assert all(torch.allclose(got[k].float(), want[k].float(), atol=1e-5) for k in got)
    assert len(rank1["detections"]) == 3  # every rank gets the whole list back
    want = evaluate(model, val)  # scored by one process
    for metrics in (rank0["metrics"], rank1["metrics"]):  # rank 0 scored, then broadcast
        assert np.allclose([metrics[k] for k in ("AP50", "AP75", "mAP")],
                           [want[k] for k in ("AP50", "AP75", "mAP")], equal_nan=True)


def test_torchrun_cli_resumes_a_single_process_run_mid_epoch(ddp_data, tmp_path):
    """1 process stops at iteration 3 of 4 in epoch 1; 2 processes (2 steps per epoch) go on."""
    out = tmp_path / "run"
    cfg = apply_overrides(tiny_synthetic(), _overrides(ddp_data, out, "train.epochs=2",
                                                       "train.max_iters=3"))
    train(cfg, progress=False)
    proc = _cli(ddp_data, out, "train.epochs=2", resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("checkpoint:") == 1  # printed by rank 0 only
    # 3 steps of 2 images = 1.5 steps of 2 x 2: rounded down, 1 step is left in epoch 1
    assert _log_iters(out) == [1, 2, 3, 4, 5, 6]
    state = torch.load(out / "last.pth", weights_only=False)
    assert (state["epoch"], state["iter"], state["world_size"]) == (2, 6, 2)


def test_torchrun_eval_prints_the_single_process_tables_once(reference_run, capsys):
    ckpt = reference_run[0] / "run" / "last.pth"
    argv = ["eval", "--checkpoint", str(ckpt), "--device", "cpu", "--no-progress"]
    proc = _torchrun(["-m", "paa_edu", *argv])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert main(argv) == 0  # one process, in this one
    assert proc.stdout == capsys.readouterr().out  # the tables once, with the same numbers


def test_commands_other_than_train_and_eval_refuse_torchrun(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["synth", "--root", str(tmp_path), "--no-progress"]) == 2
    assert "only train and eval run under torchrun" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_stop_request_on_one_rank_stops_all_and_resumes_exactly(reference_run, ddp_data,
                                                                   tmp_path):
    proc = _worker(ddp_data, tmp_path, "train.epochs=2", flags=("--stop-on-rank", "1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    stops = [(tmp_path / f"rank{r}.stop").read_text() for r in (0, 1)]
    assert stops[0].startswith("a stop request on another rank at epoch 2 iter 3: saved")
    assert stops[1].startswith("SIGTERM at epoch 2 iter 3: saved")
    assert _log_iters(tmp_path / "run") == [1, 2, 3, 4]
    _, (reference, _) = reference_run
    for r in (0, 1):  # stopped mid-epoch, resumed: the weights of the run that never stopped
        resumed = torch.load(tmp_path / f"rank{r}.pt", weights_only=False)["state"]
        assert all(torch.equal(resumed[k], v) for k, v in reference["state"].items())


def test_a_nan_on_one_rank_stops_every_rank_with_the_same_error(ddp_data, tmp_path):
    proc = _worker(ddp_data, tmp_path, "train.epochs=2", flags=("--nan-on-rank", "1"))
    assert proc.returncode != 0
    errors = [(tmp_path / f"rank{r}.err").read_text() for r in (0, 1)]
    assert errors[0] == errors[1]
    assert "non-finite loss at epoch 1 iter 2 (term: rank 1: loss_cls; loss_cls=nan" in errors[0]
    assert "rank 0" not in errors[0]
    assert not (tmp_path / "run" / "last.pth").exists()  # stopped before the first epoch end


# ---- the same on CUDA (scripts/gpu_check.sh runs `pytest -m cuda`) ---------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_one_ddp_step_on_cuda(ddp_data, tmp_path):
    """2 processes: NCCL on 2 GPUs, or both on one GPU with gloo (NCCL refuses to share)."""
    proc = _worker(ddp_data, tmp_path, "train.device=cuda", "train.max_iters=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name
    assert len(ranks[0]["history"]) == 2
