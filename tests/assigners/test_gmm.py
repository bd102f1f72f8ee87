"""gmm_split / fit_gmm_1d against the scikit-learn oracle (random and degenerate rows)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from paa_edu.assigners.gmm import (
    fit_gmm_1d,
    fit_gmm_1d_reference,
    gmm_split,
    most_likely_member,
    paa_like_scores,
)


def test_hand_made_row_cuts_at_the_mode_of_the_low_cluster():
    # Low cluster {0.10, 0.11, 0.12} has its mode at 0.11: the rule keeps the members up to
    # and including the most likely one, so 0.12 (above the mode) becomes negative.
    losses = torch.tensor([[5.0, 0.10, 5.2, 0.12, 0.11, 5.1]])
    valid = torch.ones_like(losses, dtype=torch.bool)
    pos, fit = gmm_split(losses, valid, return_fit=True)
    assert pos.tolist() == [[False, True, False, False, True, False]]
    assert gmm_split(losses, valid, backend="sklearn").tolist() == pos.tolist()
    torch.testing.assert_close(fit.means, torch.tensor([[0.11, 5.1]], dtype=torch.float64))


@pytest.mark.parametrize("seed,K", [(0, 45), (1, 20), (2, 9)])
def test_random_rows_match_sklearn(seed, K):
    losses, valid = paa_like_scores(400, K, seed)
    pos_t, fit_t = gmm_split(losses, valid, backend="torch", return_fit=True)
    pos_s, fit_s = gmm_split(losses, valid, backend="sklearn", return_fit=True)
    same_rows = (pos_t == pos_s).all(1)
    assert same_rows.float().mean() >= 0.995
    # The fitted mixtures agree too wherever EM ran the same number of steps.
    same_iter = fit_t.fitted & (fit_t.n_iter == fit_s.n_iter)
    assert same_iter.sum() >= 0.99 * fit_t.fitted.sum()
    for name in ("weights", "means", "variances"):
        a, b = getattr(fit_t, name)[same_iter], getattr(fit_s, name)[same_iter].double()
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_reg_covar_is_used():
    losses, valid = paa_like_scores(200, 45, 3)
    for reg in (1e-5, 1e-2):
        pos_t = gmm_split(losses, valid, reg_covar=reg)
        pos_s = gmm_split(losses, valid, reg_covar=reg, backend="sklearn")
        assert (pos_t == pos_s).all(1).float().mean() >= 0.995
    fit = fit_gmm_1d(losses, valid, reg_covar=1e-2)
    assert bool((fit.variances[fit.fitted] >= 1e-2).all())


DEGENERATE = [
    [1.0] * 10,  # all equal
    [2.0, 2.0, 2.0, 7.0, 7.0],  # two distinct values
    [7.0, 2.0],  # two values
    [3.0, 3.0],  # two equal values
    [13.815510557964274] * 45,  # -log(1e-6) clamp hit by every candidate
    [0.0] * 5 + [13.8] * 40,
    [1e-3, 1e-3 + 1e-12, 1e-3],  # nearly equal
    [1000.0, 1000.5, 1001.0, 3000.0],  # large values
]


@pytest.mark.parametrize("row", DEGENERATE)
def test_degenerate_rows_match_sklearn_and_never_nan(row):
    losses = torch.tensor([row], dtype=torch.float64)
    valid = torch.ones_like(losses, dtype=torch.bool)
    pos_t, fit = gmm_split(losses, valid, return_fit=True)
    pos_s = gmm_split(losses, valid, backend="sklearn")
    assert pos_t.tolist() == pos_s.tolist()
    assert int(pos_t.sum()) >= 1  # n >= 2: the low component always has a member
    for t in (fit.weights, fit.means, fit.variances):
        assert bool(torch.isfinite(t).all())


def test_rows_with_fewer_than_two_valid_have_no_positives():
    losses = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.5, 9.0, 0.4]])
    valid = torch.tensor([[False, False, False], [False, True, False], [True, False, True]])
    pos, fit = gmm_split(losses, valid, return_fit=True)
    assert pos[:2].sum() == 0
    assert fit.fitted.tolist() == [False, False, True]
    assert not bool(pos[~valid].any())  # padding is never positive
    assert gmm_split(losses, valid, backend="sklearn").tolist() == pos.tolist()


def test_padding_values_do_not_matter():
    losses, valid = paa_like_scores(50, 45, 4)
    other = torch.where(valid, losses, torch.full_like(losses, 1e9))
    assert torch.equal(gmm_split(losses, valid), gmm_split(other, valid))


def test_empty_inputs():
    assert gmm_split(torch.zeros(0, 45), torch.zeros(0, 45, dtype=torch.bool)).shape == (0, 45)
    assert gmm_split(torch.zeros(3, 0), torch.zeros(3, 0, dtype=torch.bool)).shape == (3, 0)


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="backend"):
        gmm_split(torch.rand(2, 5), torch.ones(2, 5, dtype=torch.bool), backend="numpy")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    losses, valid = paa_like_scores(300, 45, 5)
    pos_gpu = gmm_split(losses.cuda(), valid.cuda())
    assert pos_gpu.is_cuda
    assert (pos_gpu.cpu() == gmm_split(losses, valid)).all(1).float().mean() >= 0.995


def _sklearn_fit(row, tol: float, max_iter: int):
    """scikit-learn itself, with mmdetection's init, on one sorted row: (n_iter, sorted means)."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    x = np.sort(np.asarray(row, dtype=np.float64))[:, None]
    gmm = GaussianMixture(2, covariance_type="diag", reg_covar=1e-6, tol=tol, max_iter=max_iter,
                          weights_init=[0.5, 0.5], means_init=[[x.min()], [x.max()]],
                          precisions_init=np.ones((2, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(x)
    return gmm.n_iter_, sorted(gmm.means_[:, 0].tolist())


@pytest.mark.parametrize("tol,max_iter", [(1e-3, 100), (1e-6, 200), (1e-6, 2)])
def test_tol_and_max_iter_are_sklearns(tol, max_iter):
    # A tight low cluster under a spread high one: with tol 1e-3 EM stops while the two
    # components still overlap; a smaller tol lets it find the low mode (notebook 03).
    row = [1.70, 1.71, 1.72, 1.74, 2.0, 2.2, 2.3, 2.4, 2.45, 2.5, 2.6, 2.7, 2.8, 3.0]
    losses, valid = torch.tensor([row]), torch.ones(1, len(row), dtype=torch.bool)
    _, fit = gmm_split(losses, valid, return_fit=True, tol=tol, max_iter=max_iter)
    n_iter, means = _sklearn_fit(row, tol, max_iter)
    assert int(fit.n_iter[0]) == n_iter
    assert sorted(fit.means[0].tolist()) == pytest.approx(means, abs=1e-6)
    assert bool(fit.converged[0]) == (n_iter < max_iter)


def test_smaller_tol_runs_more_iterations_and_bad_values_raise():
    losses, valid = paa_like_scores(50, 27, seed=3)
    _, loose = gmm_split(losses, valid, return_fit=True)
    _, tight = gmm_split(losses, valid, return_fit=True, tol=1e-8, max_iter=500)
    assert bool((tight.n_iter >= loose.n_iter).all()) and tight.n_iter.sum() > loose.n_iter.sum()
    for bad in ({"tol": 0.0}, {"max_iter": 0}, {"max_iter": 2.5}):
        with pytest.raises(ValueError, match="tol must be > 0"):
            gmm_split(losses, valid, **bad)


def test_most_likely_member_takes_the_first_of_near_ties():
    score = torch.tensor([[-3.0, 5.0, 5.0 + 1e-12, 4.0],     # a near-tie: the first wins
                          [-3.0, 5.0, 5.0 + 1e-6, 4.0],      # a real difference: the larger
                          [-math.inf, -math.inf, 2.0, 2.0]],  # padding before the members
                         dtype=torch.float64)
    assert most_likely_member(score).tolist() == [1, 2, 2]


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_two_mirror_members_keep_the_lower_whatever_the_last_bits(backend):
    # Worked case (scene 1, GT 3 of notebook 03's training scenes): the low component holds the
    # two scores 0.449 and 0.478, its mean is their midpoint, so both have the same density in
    # exact arithmetic. Two CPUs gave these scores 1e-15 apart, and the cut kept 1 or 2
    # positives. With ties resolved as exact arithmetic would, both keep only the lower one.
    rows = torch.tensor([[0.4782364339594749, 1.3267412467475899, 0.4490785582900679],
                         [0.47823643395947374, 1.32674124674759, 0.44907855829006754]],
                        dtype=torch.float64)
    valid = torch.ones_like(rows, dtype=torch.bool)
    positives = gmm_split(rows, valid, reg_covar=1e-5, backend=backend)
    assert positives.tolist() == [[False, False, True]] * 2
    # 500 random mirror pairs c -/+ d with a far third score: the midpoint's rounding used to
    # keep both members for 44 of them; the lower one alone is the exact-arithmetic answer.
    gen = torch.Generator().manual_seed(0)
    c = torch.rand(500, generator=gen, dtype=torch.float64) + 0.2
    d = torch.rand(500, generator=gen, dtype=torch.float64) * 0.05 + 0.001
    pairs = torch.stack([c + d, c + 1.5, c - d], 1)  # (500, 3)
    kept = gmm_split(pairs, torch.ones_like(pairs, dtype=torch.bool), reg_covar=1e-5,
                     backend=backend)
    assert kept.tolist() == [[False, False, True]] * 500


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 20.0), st.sampled_from([1.0, 2.0])), min_size=2,
                max_size=30), st.integers(1, 10))
def test_batched_em_equals_the_one_gt_loop(row, iterations):
    # tol 0 never stops early: both run exactly `iterations` EM steps, ties included
    x = torch.tensor(row, dtype=torch.float64)
    fit = fit_gmm_1d(x[None], torch.ones(1, len(row), dtype=torch.bool), reg_covar=1e-5,
                     tol=0.0, max_iter=iterations)
    *expected, n_iter = fit_gmm_1d_reference(x, reg_covar=1e-5, tol=0.0, max_iter=iterations)
    assert int(fit.n_iter[0]) == n_iter == iterations
    for got, want in zip((fit.weights[0], fit.means[0], fit.variances[0]), expected):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("row", DEGENERATE + [[0.1, 0.2, 0.25, 3.2], [5.0, 0.10, 5.2, 0.12]])
def test_batched_em_stops_where_the_one_gt_loop_stops(row):
    x = torch.tensor(row, dtype=torch.float64)
    fit = fit_gmm_1d(x[None], torch.ones(1, len(row), dtype=torch.bool))
    *expected, n_iter = fit_gmm_1d_reference(x)
    assert int(fit.n_iter[0]) == n_iter
    for got, want in zip((fit.weights[0], fit.means[0], fit.variances[0]), expected):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-9)
