"""Checkpoint IO: weights_only loading, one-line errors for non-checkpoints, RNG states as plain
values, unique atomic temporaries, and the resume-time config check."""
from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
import torch

from paa_edu.config import apply_overrides
from paa_edu.data.files import atomic_write, temp_path
from paa_edu.engine.checkpoint import (
    CheckpointError,
    check_resume_config,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from paa_edu.engine.rng import rng_state, set_rng_state
from paa_edu.engine.train import train


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_data_root):
    from paa_edu.presets import tiny_synthetic
    from tests.conftest import TINY_OVERRIDES
    out = tmp_path_factory.mktemp("ckpt") / "run"
    cfg = apply_overrides(tiny_synthetic(), [*TINY_OVERRIDES, f"data.root={tiny_data_root}",
                                             f"train.out_dir={out}", "train.max_iters=1"])
    return train(cfg, progress=False)["checkpoint"], cfg


def test_a_training_checkpoint_loads_with_weights_only(checkpoint):
    path, cfg = checkpoint
    state = torch.load(path, weights_only=True)  # the oracle: torch's safe unpickler
    assert state["iter"] == 1 and state["epoch"] == 0 and state["epoch_step"] == 1
    model, loaded = load_model(path)
    assert loaded == cfg and not model.training


@pytest.mark.parametrize("content",
                         [b"", os.urandom(2048), pickle.dumps({"model": 1}, protocol=2)])
def test_random_or_truncated_files_are_one_line_errors(tmp_path, content, checkpoint):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a paa_edu checkpoint") as err:
        load_checkpoint(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    truncated = tmp_path / "cut.pth"
    truncated.write_bytes(checkpoint[0].read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="is not a paa_edu checkpoint"):
        load_model(truncated)


def test_a_pickle_that_runs_code_is_refused(tmp_path, capfd):
    path = tmp_path / "evil.pth"
    torch.save({"model": _Evil(), "config": {}}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    assert "pwned" not in capfd.readouterr().out


def test_other_tensors_are_not_a_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "c.pth", {"a": torch.ones(2)})
    with pytest.raises(CheckpointError, match="needs 'model' and 'config'"):
        load_model(tmp_path / "c.pth")


def test_weights_of_another_model_are_a_clear_error(tmp_path, checkpoint):
    state = torch.load(checkpoint[0], weights_only=True)
    state["config"]["model"]["num_classes"] = 3
    save_checkpoint(tmp_path / "other.pth", state)
    with pytest.raises(CheckpointError, match="do not fit the model"):
        load_model(tmp_path / "other.pth")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # a cached Gaussian is part of NumPy's state
    save_checkpoint(tmp_path / "rng.pth", {"rng": rng_state()})
    expected = random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist()
    set_rng_state(torch.load(tmp_path / "rng.pth", weights_only=True)["rng"])
    assert (random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist()) == expected


def test_atomic_write_uses_unique_temporaries_and_cleans_up(tmp_path):
    target = tmp_path / "x.bin"
    names = {temp_path(target).name for _ in range(50)}
    assert len(names) == 50 and all(str(os.getpid()) in n for n in names)

    def fail(handle):
        handle.write(b"half")
        raise OSError("disk full")

    atomic_write(target, lambda handle: handle.write(b"old"))
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_resume_config_refuses_model_and_data_changes(tiny_cfg):
    safe = apply_overrides(tiny_cfg, ["train.epochs=5", "train.max_iters=9", "train.device=cpu",
                                      "data.num_workers=2", "train.log_every=3",
                                      "train.eval_every_epoch=True", "train.checkpoint_every=4",
                                      "train.num_threads=2", "train.out_dir=/elsewhere"])
    check_resume_config(tiny_cfg, safe, "last.pth")
    for change, key in (("model.num_classes=3", "model.num_classes: 7 -> 3"),
                        ("model.assigner=atss", "model.assigner: 'paa' -> 'atss'"),
                        ("data.vflip_prob=0.0", "data.vflip_prob: 0.5 -> 0.0"),
                        ("train.lr=0.5", "train.lr: 0.01 -> 0.5")):
        with pytest.raises(ValueError, match="defines the model or the data") as err:
            check_resume_config(tiny_cfg, apply_overrides(tiny_cfg, [change]), "last.pth")
        assert key in str(err.value)
