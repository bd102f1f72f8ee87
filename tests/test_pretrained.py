"""The shipped teaching checkpoints: they load offline, are package data, and reproduce their
recorded AP on the first val images."""
from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset

from paa_edu import pretrained
from paa_edu.config import apply_overrides
from paa_edu.data.build import build_dataset
from paa_edu.engine.inference import evaluate

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(pretrained.DATA_DIR.glob("*.pt"))


def test_the_four_files_are_small_package_data():
    assert {f.stem for f in FILES} == {*pretrained.NAMES, "snapshots"}
    assert sum(f.stat().st_size for f in FILES) <= 12 * 2 ** 20
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["paa_edu"]
    for f in FILES:  # a plain `pip install .` copies them
        rel = f.relative_to(ROOT / "paa_edu").as_posix()
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), rel


def test_every_file_reads_with_weights_only_and_is_fp16():
    for name in pretrained.NAMES:
        state = torch.load(pretrained.DATA_DIR / f"{name}.pt", weights_only=True)
        floats = [v for v in state["model"].values() if v.is_floating_point()]
        assert floats and all(v.dtype == torch.float16 for v in floats)
        assert state["name"] == name and "make_teaching_checkpoints.py" in state["command"]
        for split in ("val", "unseen_seed", "val_check"):
            assert 0.0 <= state["metrics"][split]["AP50"] <= 1.0


def test_unknown_name_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown teaching checkpoint 'paa'.*'paa_atss'"):
        pretrained.load("paa")


@pytest.fixture(scope="module")
def val_root(tmp_path_factory):
    return tmp_path_factory.mktemp("teaching_val")


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_load_reproduces_the_recorded_ap(name, val_root):
    model, cfg = pretrained.load(name)
    assert not model.training and cfg.name == "tiny_teaching"
    assert (name, cfg.model.assigner, cfg.model.paa_init) in pretrained.VARIANTS
    cfg = apply_overrides(cfg, [f"data.root={val_root}"])
    val = build_dataset(cfg, "val", train=False)
    recorded = pretrained.info(name)["metrics"]["val_check"]
    subset = Subset(val, range(recorded["num_images"]))
    metrics = evaluate(model, subset)
    for key in ("AP50", "AP75", "mAP"):
        assert metrics[key] == pytest.approx(recorded[key], abs=1e-3), key


def test_paa_reaches_the_goal_on_val_and_on_an_unseen_seed():
    for name in ("paa_maxiou", "paa_atss"):
        metrics = pretrained.info(name)["metrics"]
        assert metrics["val"]["AP50"] >= 0.85 and metrics["val"]["num_images"] == 50
        assert metrics["unseen_seed"]["AP50"] >= 0.85


def test_snapshot_history_is_in_order_and_of_its_own_run():
    for name in pretrained.NAMES:
        snaps = pretrained.load_snapshot_history(name)
        iters = [s["iteration"] for s in snaps]
        assert iters == sorted(iters) and iters[0] == 0 and len(iters) >= 3
        assert all(s["trained_with"] == name and list(s["assigners"]) == [name] for s in snaps)
