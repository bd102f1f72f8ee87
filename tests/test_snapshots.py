"""Snapshots during training: due iterations, contents checked against the assigners, no effect
on training, and num_pos in the log."""
from __future__ import annotations

import csv

import pytest
import torch

from paa_edu.assigners import ATSSAssigner, MaxIoUAssigner
from paa_edu.config import apply_overrides
from paa_edu.data.build import build_dataset
from paa_edu.engine.snapshots import SNAPSHOT_ASSIGNERS, load_snapshots, positives_history
from paa_edu.engine.train import train


@pytest.fixture
def snap_cfg(tiny_cfg):
    return apply_overrides(tiny_cfg, ["model.assigner=paa", "train.epochs=2",
                                      "train.snapshot_every=2"])


def test_snapshots_are_written_when_due_and_do_not_change_training(snap_cfg, tmp_path):
    with_hook = train(snap_cfg, progress=False)
    without = train(apply_overrides(snap_cfg, ["train.snapshot_every=0",
                                               f"train.out_dir={tmp_path / 'plain'}"]),
                    progress=False)
    a, b = with_hook["model"].state_dict(), without["model"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # eval-mode, no RNG: training untouched
    files = sorted(p.name for p in (with_hook["checkpoint"].parent / "snapshots").iterdir())
    n = len(with_hook["history"])  # 4 train images, batch 2, 2 epochs -> 4 iterations
    assert n == 4
    assert files == ["iter_000000.pt", "iter_000002.pt", "iter_000004.pt"]  # 0, 2 and the end
    assert not (tmp_path / "plain" / "snapshots").exists()


def test_snapshot_contents_match_independent_assigners(snap_cfg):
    result = train(snap_cfg, progress=False)
    snaps = load_snapshots(result["checkpoint"].parent)  # weights_only=True inside
    assert [s["iteration"] for s in snaps] == [0, 2, 4]
    last = snaps[-1]
    assert last["trained_with"] == "paa_atss" and set(last["assigners"]) == \
        {name for name, _, _ in SNAPSHOT_ASSIGNERS}
    dataset = build_dataset(snap_cfg, "train", train=False)
    model = result["model"]
    offset = 0
    for b in range(len(last["image_indices"])):
        image, target = dataset[b]
        dense = model.predict_dense(image[None])
        anchors, counts = dense.anchors, dense.num_level_anchors
        boxes, labels = target["boxes"], target["labels"]
        rows = last["gt_image"] == b
        assert torch.equal(last["gt_boxes"][rows], boxes.float())
        for name, oracle in (("maxiou", MaxIoUAssigner(0.5, 0.4, min_pos_iou=0.0)),
                             ("atss", ATSSAssigner(9))):
            entry = last["assigners"][name]
            expected = oracle.assign(anchors, boxes, labels, counts).num_pos_per_gt()
            assert torch.equal(entry["num_pos_per_gt"][rows], expected), name
        offset += len(boxes)
    assert offset == len(last["gt_boxes"])
    for name in ("paa_maxiou", "paa_atss"):
        e = last["assigners"][name]
        # the positives of the table are the listed positives, and the cut is the largest score
        assert torch.equal(e["cand_positives"].sum(1), e["num_pos_per_gt"])
        for g in range(len(e["cut"])):
            pos_scores = e["cand_scores"][g][e["cand_positives"][g]]
            if len(pos_scores):
                assert float(e["cut"][g]) == pytest.approx(float(pos_scores.max()), rel=1e-6)
                listed = e["pos_score"][e["pos_gt"] == g]
                assert torch.allclose(listed.sort().values, pos_scores.sort().values)
        assert e["gmm_means"].shape == e["gmm_variances"].shape == e["gmm_weights"].shape \
            == (len(e["cut"]), 2)
    iters, history = positives_history(snaps, "paa_atss")
    assert iters.tolist() == [0, 2, 4] and history.shape == (3, len(last["gt_boxes"]))


def test_num_pos_is_logged_and_not_summed_into_the_loss(snap_cfg):
    result = train(apply_overrides(snap_cfg, ["train.snapshot_every=0"]), progress=False)
    row = result["history"][0]
    assert row["loss"] == pytest.approx(row["loss_cls"] + row["loss_bbox"] + row["loss_iou"])
    assert isinstance(row["num_pos"], int) and 0 < row["num_pos"]
    assert isinstance(row["num_gts"], int) and row["num_gts"] > 0
    with open(result["checkpoint"].parent / "log.csv") as f:
        logged = list(csv.DictReader(f))
    assert [int(r["num_pos"]) for r in logged] == [h["num_pos"] for h in result["history"]]


def test_bad_snapshot_every_is_refused(snap_cfg):
    with pytest.raises(ValueError, match="snapshot_every"):
        apply_overrides(snap_cfg, ["train.snapshot_every=-1"])


def test_load_snapshots_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_snapshots(tmp_path)
