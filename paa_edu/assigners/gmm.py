"""Two-component 1-D Gaussian mixtures, fitted for many ground truths at once (PAA's split).

PAA fits a two-component Gaussian mixture to the scores of each ground truth's (GT's)
candidates: the low-loss component holds the positives. The reference implementations fit one
scikit-learn ``GaussianMixture`` per GT in a loop; here the same EM runs for all GTs together,
on a ``(G, K)`` tensor of scores (``K`` candidates per GT, padded) with a ``valid`` mask.
Read :func:`fit_gmm_1d_reference` (EM for one GT) first. The EM is scikit-learn's, step for
step (``covariance_type="diag"``, float64):

1. init: weights (0.5, 0.5), means (min, max) of the row, precisions 1 (variance 1);
2. E-step: weighted log densities, their log-sum-exp ``log p(x)`` and responsibilities;
   the lower bound is the mean of ``log p(x)`` over the row's valid entries;
3. M-step: ``n_k = sum resp + 10 eps``, means, variances ``E[x^2] - mean^2 + reg_covar``;
4. stop a row when its lower bound changes by less than ``tol`` (or after ``max_iter`` steps);
   its parameters are those of the last M-step;
5. a final E-step gives the component labels (``predict``) and the mixture log density
   (``score_samples``).

``gmm_split`` then applies mmdetection's separation rule (Fig. 3(c) of the PAA paper), with one
guard: mmdetection takes component 0 (initialised at the minimum) as the low-loss mode; we take
the component whose *fitted* mean is lower. They differ only if EM swapped the modes, where
mmdetection would silently keep the high-loss candidates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

_LOG_2PI = math.log(2 * math.pi)
#: EM iterations between two compactions of the still-running rows (see :func:`fit_gmm_1d`).
COMPACT_EVERY = 8


@dataclass
class GMMFit:
    """Fitted two-component mixtures, one per row (component 0 starts at the row minimum); rows
    not ``fitted`` keep the init (means = min/max of the valid entries, or 0)."""
    weights: Tensor  # (G, 2)
    means: Tensor  # (G, 2)
    variances: Tensor  # (G, 2), reg_covar included
    converged: Tensor  # (G,) bool: EM stopped on tol before max_iter
    n_iter: Tensor  # (G,) long: EM iterations run (0 for rows not fitted)
    fitted: Tensor  # (G,) bool: the row had at least 2 valid entries

    def low_component(self) -> Tensor:
        """(G,) long: index of the component with the smaller mean (0 on ties)."""
        return (self.means[:, 1] < self.means[:, 0]).long()


def weighted_log_prob(x: Tensor, weights: Tensor, means: Tensor, variances: Tensor,
                      powers: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
    """log(w_k) + log N(x | mean_k, var_k) of samples x (G, K) and parameters (G, 2), written as
    scikit-learn writes it ("diag"): (2, G, K), component first. ``powers``: ``(x, 2 x, x^2)``."""
    _, x_twice, x_sq = powers if powers is not None else (x, 2.0 * x, x * x)  # (G, K) each
    prec_chol = 1.0 / torch.sqrt(variances.t()[:, :, None])  # (2, G, 1) sklearn's cholesky
    prec = prec_chol ** 2  # (2, G, 1) precision = 1 / variance
    m = means.t()[:, :, None]  # (2, G, 1)
    # sklearn expands (x - m)^2 / var as m^2 p - 2 x m p + x^2 p; we keep its rounding
    # (doubling is exact in floating point, so 2x * (m p) == 2 * (x * (m p))).
    maha = m * m * prec - x_twice * (m * prec) + x_sq * prec  # (2, G, K)
    log_gauss = -0.5 * (_LOG_2PI + maha) + torch.log(prec_chol)  # (2, G, K)
    return log_gauss + torch.log(weights.t()[:, :, None])  # (2, G, K)


def _e_step(powers, valid: Tensor, params: tuple[Tensor, Tensor, Tensor]):
    """Mean log-likelihood (G,) and responsibilities (2, G, K), zero where invalid."""
    wlp = weighted_log_prob(powers[0], *params, powers=powers)  # (2, G, K)
    log_norm = torch.logaddexp(wlp[0], wlp[1])  # (G, K) log p(x)
    resp = torch.exp(wlp - log_norm) * valid  # (2, G, K)
    n_valid = valid.sum(1).clamp(min=1)  # (G,)
    lower_bound = torch.where(valid, log_norm, 0.0).sum(1) / n_valid  # (G,)
    return lower_bound, resp


def _m_step(powers, resp: Tensor, reg_covar: float) -> tuple[Tensor, Tensor, Tensor]:
    """scikit-learn's ``_estimate_gaussian_parameters`` for 1-D data, all rows at once."""
    x, _, x_sq = powers  # (G, K) each
    eps = torch.finfo(x.dtype).eps
    nk = resp.sum(2).t() + 10 * eps  # (G, 2)
    means = (resp * x).sum(2).t() / nk  # (G, 2)
    avg_x2 = (resp * x_sq).sum(2).t() / nk  # (G, 2)
    variances = avg_x2 - means ** 2 + reg_covar  # (G, 2)
    # sklearn raises "ill-defined empirical covariance" here; we keep the row alive instead.
    variances = variances.clamp(min=torch.finfo(x.dtype).tiny)
    weights = nk / nk.sum(1, keepdim=True)  # (G, 2)
    return weights, means, variances


def _init_params(x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Weights 0.5, means (row min, row max) over valid entries, variances 1."""
    G, K = x.shape
    if K == 0:  # no columns at all: reductions over an empty dim are not defined
        x, valid = x.new_zeros(G, 1), valid.new_zeros(G, 1)
    lo = torch.where(valid, x, math.inf).amin(1)  # (G,)
    hi = torch.where(valid, x, -math.inf).amax(1)  # (G,)
    any_valid = valid.any(1)
    lo, hi = torch.where(any_valid, lo, 0.0), torch.where(any_valid, hi, 0.0)
    return x.new_full((G, 2), 0.5), torch.stack([lo, hi], dim=1), x.new_ones(G, 2)  # (G, 2) each


def fit_gmm_1d_reference(x: Tensor, reg_covar: float = 1e-6, tol: float = 1e-3,
                         max_iter: int = 100) -> tuple[Tensor, Tensor, Tensor, int]:
    """EM for the (n,) float64 scores of one GT (n >= 2), as scikit-learn runs it: the loop that
    :func:`fit_gmm_1d` batches. Returns weights, means, variances (2,) and the iterations run."""
    w, mu, var = x.new_full((2,), 0.5), torch.stack([x.min(), x.max()]), x.new_ones(2)  # 1.
    previous = -math.inf
    for it in range(1, max_iter + 1):
        log_p = w.log() - 0.5 * (_LOG_2PI + var.log() + (x[:, None] - mu) ** 2 / var)  # (n, 2)
        log_norm = torch.logsumexp(log_p, 1)  # (n,) 2. E-step: log p(x) ...
        resp = (log_p - log_norm[:, None]).exp()  # (n, 2) ... and responsibilities
        nk = resp.sum(0) + 10 * torch.finfo(x.dtype).eps  # (2,) 3. M-step
        w, mu = nk / nk.sum(), (resp * x[:, None]).sum(0) / nk
        var = (resp * x[:, None] ** 2).sum(0) / nk - mu ** 2 + reg_covar
        if abs(float(log_norm.mean()) - previous) < tol:  # 4. the lower bound stopped moving
            return w, mu, var, it
        previous = float(log_norm.mean())
    return w, mu, var, max_iter


def fit_gmm_1d(x: Tensor, valid: Tensor, reg_covar: float = 1e-6, tol: float = 1e-3,
               max_iter: int = 100) -> GMMFit:
    """:func:`fit_gmm_1d_reference` on every row of x (G, K) at once (steps 1-4 of the module
    docstring), reading x where ``valid`` (G, K), in float64; rows with fewer than 2 valid entries
    are not fitted. A row that stops is frozen, so every row's result is that of its own EM.
    Every :data:`COMPACT_EVERY` iterations the block of computed rows shrinks to the rows still
    running (the loop's only host-device sync). Returns float64 parameters on ``x``'s device."""
    x = torch.where(valid, x, 0.0).double()  # (G, K)
    G = x.shape[0]
    # 1. Initial parameters; rows with < 2 samples are done before they start.
    weights, means, variances = _init_params(x, valid)
    fitted = valid.sum(1) >= 2  # (G,)
    active = fitted.clone()  # (G,) rows still iterating
    converged = torch.zeros(G, dtype=torch.bool, device=x.device)
    n_iter = torch.zeros(G, dtype=torch.long, device=x.device)
    prev_lb = x.new_full((G,), -math.inf)
    powers = (x, 2.0 * x, x * x)  # (G, K) each, reused by every iteration
    for it in range(max_iter):
        if it % COMPACT_EVERY == 0:  # the rows still running (R,) and their samples
            rows = active.nonzero().squeeze(1)  # (R,) one host-device sync
            if rows.numel() == 0:
                break
            block, block_valid = tuple(t[rows] for t in powers), valid[rows]  # (R, K) each
        live = active[rows]  # (R,) rows of the block that have not stopped yet
        old = (weights[rows], means[rows], variances[rows])
        # 2. E-step with the current parameters -> lower bound of this iteration.
        lb, resp = _e_step(block, block_valid, old)
        # 3. M-step: new parameters of the live rows (stopped rows keep theirs).
        new = _m_step(block, resp, reg_covar)
        weights[rows], means[rows], variances[rows] = (torch.where(live[:, None], n, o)
                                                       for n, o in zip(new, old))
        n_iter[rows] += live.long()
        # 4. Convergence test on the change of the lower bound.
        done = live & ((lb - prev_lb[rows]).abs() < tol)  # (R,)
        prev_lb[rows] = torch.where(live, lb, prev_lb[rows])
        converged[rows] |= done
        active[rows] = live & ~done
    return GMMFit(weights, means, variances, converged, n_iter, fitted)


#: Log densities this close (relative) to a row's highest count as tied with it.
TIE_RTOL = 1e-9


def most_likely_member(score: Tensor) -> Tensor:
    """Column of the highest score of each row, the first one on ties: (G, K) -> (G,). Ties are
    structural in PAA's cut: when the low component holds two members and the high one
    is far away, the fitted low mean is their midpoint, so both have the same density in exact
    arithmetic; in floating point the larger one, and so the number of positives, depends on how
    a sum was rounded. Scores within ``TIE_RTOL`` of the row's highest count as ties, and the
    first (lowest loss) wins: the answer of exact arithmetic, on every CPU and GPU.
    """
    top = score.amax(1, keepdim=True)  # (G, 1)
    near_top = score >= top - TIE_RTOL * top.abs().clamp_min(1.0)  # (G, K)
    return near_top.long().argmax(1)  # (G,) first True


def _separate(x: Tensor, valid: Tensor, fit: GMMFit) -> Tensor:
    """mmdetection's rule on rows sorted ascending: positives (G, K) in the sorted order.

    1. final E-step: component labels = argmax of the weighted log density (ties -> 0);
    2. F = valid members of the low-mean component;
    3. f* = the member of F with the highest mixture log density (first one on ties, see
       :func:`most_likely_member`);
    4. positives = members of F up to and including f*.
    """
    if x.shape[1] == 0:
        return valid.clone()
    wlp = weighted_log_prob(x, fit.weights, fit.means, fit.variances)  # (2, G, K)
    labels = (wlp[1] > wlp[0]).long()  # (G, K) argmax over components, ties -> 0
    score = torch.logaddexp(wlp[0], wlp[1])  # (G, K) = sklearn score_samples
    in_low = valid & (labels == fit.low_component()[:, None]) & fit.fitted[:, None]  # (G, K)
    best = most_likely_member(torch.where(in_low, score, -math.inf))  # (G,) column of f*
    cols = torch.arange(x.shape[1], device=x.device)  # (K,)
    return in_low & (cols[None, :] <= best[:, None])  # (G, K)


def _gmm_split_sklearn(losses: Tensor, valid: Tensor, reg_covar: float, tol: float,
                       max_iter: int):
    """The per-GT reference loop: one scikit-learn GaussianMixture per GT with >= 2 candidates."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    G, K = losses.shape
    x_all, v_all = losses.detach().double().cpu().numpy(), valid.cpu().numpy()
    positives = np.zeros((G, K), dtype=bool)
    fit = _init_params(torch.where(valid, losses.detach(), 0.0).double().cpu(), valid.cpu())
    weights, means, variances = (p.numpy() for p in fit)
    converged, n_iter = np.zeros(G, dtype=bool), np.zeros(G, dtype=np.int64)
    for g in range(G):
        cols = np.flatnonzero(v_all[g])
        if len(cols) < 2:  # fewer than 2 candidates: no positives
            continue
        order = cols[np.argsort(x_all[g, cols], kind="stable")]  # 1. sort ascending
        X = x_all[g, order].reshape(-1, 1)  # (n, 1) float64
        gmm = GaussianMixture(2, covariance_type="diag", reg_covar=reg_covar, tol=tol,
                              max_iter=max_iter, weights_init=np.array([0.5, 0.5]),
                              means_init=np.array([[X.min()], [X.max()]]),
                              precisions_init=np.ones((2, 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(X)  # 2.-4. EM
            labels = gmm.predict(X)  # (n,) component of each candidate
            score = gmm.score_samples(X)  # (n,) log density of the whole mixture
        low = int(gmm.means_[1, 0] < gmm.means_[0, 0])  # the low-loss component
        members = np.flatnonzero(labels == low)  # sorted positions of F
        if len(members):
            best = members[int(most_likely_member(torch.from_numpy(score[members])[None]))]  # f*
            positives[g, order[members[members <= best]]] = True
        weights[g], means[g], variances[g] = gmm.weights_, gmm.means_[:, 0], gmm.covariances_[:, 0]
        converged[g], n_iter[g] = gmm.converged_, gmm.n_iter_
    out = GMMFit(*(torch.from_numpy(a) for a in (weights, means, variances, converged, n_iter)),
                 fitted=(valid.sum(1) >= 2).cpu())
    return torch.from_numpy(positives).to(losses.device), out


def gmm_split(losses: Tensor, valid: Tensor, reg_covar: float = 1e-6, backend: str = "torch",
              return_fit: bool = False, tol: float = 1e-3, max_iter: int = 100):
    """Split each row of candidate losses (G, K), lower is better, into positives and negatives
    (PAA, mmdetection's rule): positives (G, K) bool on ``losses``' device, or with
    ``return_fit`` ``(positives, fit)``, the :class:`GMMFit` of the sorted rows.

    Per row, over its ``valid`` entries: fewer than 2 -> no positives. Otherwise steps 1-5 of the
    module docstring and the separation rule. ``reg_covar``: 1e-6 in sklearn/mmdet, 1e-5 in the
    rotated heads. ``backend``: ``"torch"`` (batched, any device) or
    ``"sklearn"`` (per-row reference loop). ``tol``, ``max_iter``: EM's stopping rule (sklearn's
    and mmdetection's defaults); with ``tol=1e-3`` EM often stops after 3 iterations with two
    overlapping components, a smaller ``tol`` runs it closer to convergence (notebook 03).
    """
    if not tol > 0 or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter an int >= 1, got tol={tol!r}, "
                         f"max_iter={max_iter!r}")
    if backend == "sklearn":
        positives, fit = _gmm_split_sklearn(losses, valid, reg_covar, tol, max_iter)
    elif backend == "torch":
        # 1. Sort each row ascending, invalid entries last (stable, so ties keep their order).
        x = torch.where(valid, losses.double(), math.inf)  # (G, K)
        x_sorted, order = torch.sort(x, dim=1, stable=True)  # (G, K) each
        v_sorted = valid.gather(1, order)  # (G, K)
        x_sorted = torch.where(v_sorted, x_sorted, 0.0)
        # 2. Fit the mixtures and 3. apply the separation rule in sorted order.
        fit = fit_gmm_1d(x_sorted, v_sorted, reg_covar=reg_covar, tol=tol, max_iter=max_iter)
        pos_sorted = _separate(x_sorted, v_sorted, fit)  # (G, K)
        # 4. Scatter the decision back to the original columns.
        positives = torch.zeros_like(valid).scatter(1, order, pos_sorted)  # (G, K)
    else:
        raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}")
    return (positives, fit) if return_fit else positives


def paa_like_scores(num_gts: int, num_candidates: int = 45, seed: int = 0):
    """Random PAA-like candidate scores: losses (G, K) float32 and valid (G, K) bool, each row a
    low and a high group of random sizes and scales, 20-100 % of the slots valid, shuffled."""
    g = torch.Generator().manual_seed(seed)
    G, K = num_gts, num_candidates
    n_low = torch.randint(1, K, (G, 1), generator=g)  # (G, 1) size of the low group
    low = torch.rand(G, K, generator=g) * 0.6 + 0.1  # (G, K)
    high = torch.rand(G, K, generator=g) * 3.0 + 0.8  # (G, K)
    cols = torch.arange(K)[None, :]  # (1, K)
    losses = torch.where(cols < n_low, low, high) * (torch.rand(G, 1, generator=g) * 3 + 0.2)
    losses = losses + torch.randn(G, K, generator=g).abs() * 0.2
    valid = torch.rand(G, K, generator=g) < torch.rand(G, 1, generator=g) * 0.8 + 0.2
    return losses[:, torch.randperm(K, generator=g)], valid
