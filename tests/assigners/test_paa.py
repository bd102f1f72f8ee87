"""PAAAssigner: candidate table, GMM split write-back, fallback, record, batching."""
from __future__ import annotations

import pytest
import torch
from assign_helpers import two_level_anchors
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paa_edu.assigners import AssignResult, PAAAssigner, gmm_split
from paa_edu.assigners.paa import _candidate_table, _candidate_table_reference


def _initial(gt_inds: list[int], num_gts: int, labels: list[int] | None = None) -> AssignResult:
    """Hand-made initial assignment; label = GT index unless given."""
    g = torch.tensor(gt_inds)
    lab = torch.tensor(labels) if labels else torch.where(g > 0, g - 1, -1)
    return AssignResult(g, lab, torch.zeros(len(gt_inds)), num_gts)


def test_split_keeps_low_score_mode_and_writes_back():
    # One level of 8 anchors: GT 1 owns anchors 0-5, anchor 6 is ignored, anchor 7 negative.
    init = _initial([1, 1, 1, 1, 1, 1, -1, 0], 1)
    scores = torch.tensor([0.30, 4.0, 0.20, 4.2, 0.25, 4.1, 9.0, 9.0])
    res = PAAAssigner().reassign([init], [scores], [8])[0]
    assert res.gt_inds.tolist() == [0, 0, 1, 0, 1, 0, -1, 0]  # 0.30 is above the low mode
    assert res.labels.tolist() == [-1, -1, 0, -1, 0, -1, -1, -1]
    expected = gmm_split(scores[:6][None], torch.ones(1, 6, dtype=torch.bool), reg_covar=1e-5)
    assert res.pos_mask[:6].tolist() == expected[0].tolist()


def test_topk_per_level_before_the_split():
    # GT 1 has 12 candidates on level 0 and 2 on level 1; only the 9 best of level 0 count.
    init = _initial([1] * 14, 1)
    scores = torch.tensor([float(i) for i in range(12)] + [0.5, 7.0])
    paa = PAAAssigner(topk=9, record=True)
    res = paa.reassign([init], [scores], [12, 2])[0]
    rec = paa.last_record
    assert int(rec.valid.sum()) == 11
    kept = sorted(rec.anchor_inds[rec.valid].tolist())
    assert kept == list(range(9)) + [12, 13]
    assert rec.levels[rec.valid].tolist().count(1) == 2
    assert not res.pos_mask[9:12].any()  # never candidates of the GMM: negatives
    torch.testing.assert_close(rec.scores[rec.valid], scores[rec.anchor_inds[rec.valid]])


def test_fallback_keeps_single_candidate_and_counts():
    # GT 1: one candidate (anchor 0). GT 2: no candidate at all. GT 3: two candidates.
    init = _initial([1, 0, 3, 3, 0], 3)
    scores = torch.tensor([2.0, 0.0, 1.0, 5.0, 0.0])
    paa = PAAAssigner(record=True)  # "best", ours
    res = paa.reassign([init], [scores], [5])[0]
    assert res.gt_inds.tolist() == [1, 0, 3, 0, 0]
    assert paa.fallback_count == 1 and paa.num_gts_split == 2
    assert paa.last_record.fallback.tolist() == [True, False, False]
    strict = PAAAssigner(fallback="none", record=True)  # the seed / mmdet: candidate dropped
    assert strict.reassign([init], [scores], [5])[0].gt_inds.tolist() == [0, 0, 3, 0, 0]
    assert strict.fallback_count == 1 and strict.last_record.fallback.tolist() == [True, False,
                                                                                     False]
    everything = PAAAssigner(fallback="all")  # the original: the single candidate stays
    assert everything.reassign([init], [scores], [5])[0].gt_inds.tolist() == [1, 0, 3, 0, 0]
    assert everything.fallback_count == 1
    paa.reset_stats()
    assert paa.fallback_count == 0
    with pytest.raises(ValueError, match="fallback must be one of"):
        PAAAssigner(fallback="first")


def test_fallback_modes_on_an_empty_low_component():
    # Step 3 alone on a hand-made (R, K) table: row 0 has 3 candidates and no positive (as
    # after an empty low-loss component), row 1 already has its positive and is left alone.
    scores = torch.tensor([[0.5, 0.2, 0.9, 0.0], [1.0, 2.0, 0.0, 0.0]])
    valid = torch.tensor([[True, True, True, False], [True, True, False, False]])
    for mode, expected in (("none", [[False] * 4, [True, False, False, False]]),
                           ("best", [[False, True, False, False], [True, False, False, False]]),
                           ("all", [[True, True, True, False], [True, False, False, False]])):
        positives = torch.tensor([[False] * 4, [True, False, False, False]])  # row 0: empty
        paa = PAAAssigner(fallback=mode)
        rescued = paa._apply_fallback(scores, valid, positives)
        assert positives.tolist() == expected, mode
        assert rescued.tolist() == [True, False] and paa.fallback_count == 1


def test_a_batch_equals_its_images_one_by_one_and_the_sklearn_backend():
    g = torch.Generator().manual_seed(0)
    inits, scores = [], []
    for n_gts in (3, 0, 5):
        gt_inds = torch.randint(0, n_gts + 1, (60,), generator=g) if n_gts else torch.zeros(
            60, dtype=torch.long)
        inits.append(_initial(gt_inds.tolist(), n_gts))
        scores.append(torch.rand(60, generator=g) * 3)
    paa = PAAAssigner()
    batched = paa.reassign(inits, scores, [40, 20])
    single = [PAAAssigner().reassign([i], [s], [40, 20])[0] for i, s in zip(inits, scores)]
    ref = PAAAssigner(backend="sklearn").reassign(inits, scores, [40, 20])
    for b, s, r in zip(batched, single, ref):
        assert b.gt_inds.tolist() == s.gt_inds.tolist() == r.gt_inds.tolist()
    assert batched[1].neg_mask.all()
    for b, i in zip(batched, inits):  # positives are a subset of the initial candidates
        assert not (b.pos_mask & ~i.pos_mask).any()
        assert (b.gt_inds[b.pos_mask] == i.gt_inds[b.pos_mask]).all()


def test_record_holds_fit_and_thresholds():
    init = _initial([1, 1, 1, 1, 2, 2, 2, 2, 2], 2)
    scores = torch.tensor([0.1, 0.2, 0.25, 3.2, 0.5, 0.6, 0.55, 4.0, 4.1])
    paa = PAAAssigner(record=True)
    assert PAAAssigner().last_record is None
    res = paa.reassign([init], [scores], [9])[0]
    rec = paa.last_record
    assert rec.num_gts == 2 and rec.fit.means.shape == (2, 2)
    assert rec.positives.sum().item() == res.num_pos
    # By hand: the low clusters {0.1, 0.2, 0.25} and {0.5, 0.55, 0.6} are most likely at 0.2
    # and 0.55 (nearest their means); the positives are the sorted candidates up to those.
    assert res.gt_inds.tolist() == [1, 1, 0, 0, 2, 0, 2, 0, 0]
    assert rec.thresholds().tolist() == pytest.approx([0.2, 0.55])
    for gt, expected in enumerate(([0.1, 0.2], [0.5, 0.55])):
        assert sorted(rec.scores[gt][rec.positives[gt]].tolist()) == pytest.approx(expected)
    assert rec.valid.sum(1).tolist() == [4, 5]
    # The recorded mixture is the one scikit-learn fits to the same sorted scores.
    for gt, row in enumerate(([0.1, 0.2, 0.25, 3.2], [0.5, 0.55, 0.6, 4.0, 4.1])):
        ref = _sklearn_means(row, reg_covar=paa.reg_covar)
        assert sorted(rec.fit.means[gt].tolist()) == pytest.approx(ref, abs=1e-6)


def _sklearn_means(row: list[float], reg_covar: float) -> list[float]:
    """Sorted component means of mmdetection's GMM init and EM, from scikit-learn itself."""
    import numpy as np
    from sklearn.mixture import GaussianMixture
    x = np.sort(np.array(row))[:, None]
    gmm = GaussianMixture(2, covariance_type="diag", reg_covar=reg_covar,
                          weights_init=[0.5, 0.5], means_init=[[x.min()], [x.max()]],
                          precisions_init=np.ones((2, 1))).fit(x)
    return sorted(gmm.means_[:, 0].tolist())


def _reassign_loop_oracle(initial: AssignResult, scores, num_level: list[int], topk: int,
                          fallback: str, reg_covar: float) -> list[int]:
    """PAA's reassignment written as the paper's per-GT loop (no candidate table)."""
    level = torch.repeat_interleave(torch.arange(len(num_level)), torch.tensor(num_level))
    gt_inds = initial.gt_inds.clone()
    for g in range(1, initial.num_gts + 1):
        candidates = (initial.gt_inds == g).nonzero().squeeze(1).tolist()
        kept = []  # per level, the topk lowest scores
        for lvl in range(len(num_level)):
            on_level = [a for a in candidates if level[a] == lvl]
            kept += sorted(on_level, key=lambda a: scores[a].item())[:topk]
        chosen = []
        if len(kept) >= 2:
            x = scores[kept].double()[None]
            split = gmm_split(x, torch.ones_like(x, dtype=torch.bool), reg_covar, "sklearn")
            chosen = [a for a, keep in zip(kept, split[0].tolist()) if keep]
        if not chosen and kept and fallback == "best":
            chosen = [min(kept, key=lambda a: scores[a].item())]
        elif not chosen and fallback == "all":  # the original PAA: every candidate
            chosen = kept
        for a in candidates:
            if a not in chosen:
                gt_inds[a] = 0
    return gt_inds.tolist()


@pytest.mark.parametrize("init", ["maxiou", "atss"])
@pytest.mark.parametrize("topk, fallback", [(9, "best"), (3, "best"), (9, "none"), (9, "all")])
def test_reassign_equals_a_per_gt_loop_on_random_scenes(init, topk, fallback):
    anchors, num_level = two_level_anchors()
    g = torch.Generator().manual_seed(topk)
    checked = rescued = 0
    for _ in range(4):
        n = 5
        gts = torch.cat([torch.rand(n, 2, generator=g) * 64, 6 + torch.rand(n, 2, generator=g)
                         * 40, torch.rand(n, 1, generator=g) * 3], dim=1)  # (n, 5)
        labels = torch.randint(0, 4, (n,), generator=g)
        paa = PAAAssigner(init=init, topk=topk, fallback=fallback)
        first = paa.initial_assign(anchors, gts, labels, num_level)
        first.gt_inds[(first.gt_inds == 1).nonzero()[1:, 0]] = 0  # GT 1: a single candidate
        scores = torch.rand(len(anchors), generator=g) * 3  # (A,) no ties
        res = paa.reassign([first], [scores], num_level)[0]
        expected = _reassign_loop_oracle(first, scores, num_level, topk, fallback, paa.reg_covar)
        assert res.gt_inds.tolist() == expected
        assert res.labels.tolist() == torch.where(
            res.gt_inds > 0, labels[(res.gt_inds - 1).clamp(min=0)], -1).tolist()
        checked += int(first.pos_mask.sum())
        rescued += paa.fallback_count
    assert checked > 40  # many candidates went through the split
    assert rescued > 0  # GT 1 (one candidate) reached the fallback rule in every mode


def test_bad_inputs_raise():
    init = _initial([1, 0], 1)
    with pytest.raises(ValueError, match="init"):
        PAAAssigner(init="fcos")
    with pytest.raises(ValueError, match="backend"):
        PAAAssigner(backend="jax")
    with pytest.raises(ValueError, match="fallback"):
        PAAAssigner(fallback=True)
    with pytest.raises(ValueError, match="NaN"):  # divergence: the training step reports it
        PAAAssigner().reassign([init], [torch.tensor([float("nan"), 0.0])], [2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    init = _initial([1, 1, 1, 1, 2, 2, 2, 2, 2], 2)
    scores = torch.tensor([0.1, 0.2, 3.0, 3.2, 0.5, 0.6, 0.55, 4.0, 4.1])
    cpu = PAAAssigner().reassign([init], [scores], [9])[0]
    init_gpu = AssignResult(init.gt_inds.cuda(), init.labels.cuda(), init.max_overlaps.cuda(), 2)
    gpu = PAAAssigner().reassign([init_gpu], [scores.cuda()], [9])[0]
    assert gpu.gt_inds.is_cuda and gpu.gt_inds.cpu().tolist() == cpu.gt_inds.tolist()


def test_tol_and_max_iter_reach_the_gmm():
    init = _initial([1] * 14, 1)
    scores = torch.tensor([1.70, 1.71, 1.72, 1.74, 2.0, 2.2, 2.3, 2.4, 2.45, 2.5, 2.6, 2.7,
                           2.8, 3.0])
    default, tight = PAAAssigner(record=True, topk=14), PAAAssigner(record=True, topk=14,
                                                                    tol=1e-7, max_iter=300)
    assert (default.tol, default.max_iter) == (1e-3, 100)  # scikit-learn's / mmdetection's
    for paa in (default, tight):
        paa.reassign([init], [scores], [14])[0]
        valid = torch.ones(1, 14, dtype=torch.bool)
        expected, fit = gmm_split(scores[None], valid, reg_covar=paa.reg_covar, return_fit=True,
                                  tol=paa.tol, max_iter=paa.max_iter)
        assert paa.last_record.fit.n_iter.tolist() == fit.n_iter.tolist()
        assert paa.last_record.positives.tolist() == expected.tolist()
    assert int(tight.last_record.fit.n_iter[0]) > int(default.last_record.fit.n_iter[0])


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_candidate_table_equals_the_per_gt_loop(data):
    num_level = data.draw(st.lists(st.integers(0, 12), min_size=1, max_size=3))
    A, topk = sum(num_level), data.draw(st.integers(1, 4))
    assume(A > 0)
    tied = data.draw(st.booleans())  # few distinct scores: many ties inside a level
    initials, scores = [], []
    for _ in range(data.draw(st.integers(1, 3))):
        G = data.draw(st.integers(0, 4))
        initials.append(_initial(data.draw(st.lists(st.integers(-1, G), min_size=A,
                                                    max_size=A)), G))
        values = st.sampled_from([0.5, 1.0, 2.0]) if tied else st.floats(0.0, 10.0)
        scores.append(torch.tensor(data.draw(st.lists(values, min_size=A, max_size=A)),
                                   dtype=torch.float64))
    table = _candidate_table(initials, scores, num_level, topk)
    reference = _candidate_table_reference(initials, scores, num_level, topk)
    for got, want in zip(table, reference):
        assert torch.equal(got, want)
