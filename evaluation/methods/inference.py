"""Variance estimators for linear (fixed-effects) regressions and the wild cluster bootstrap.

Every estimator in :mod:`evaluation.methods.estimators` reduces its model to a
:class:`LinearDesign`: the outcome and regressors *after* absorbing the unit fixed
effects (within transformation) and after multiplying by ``sqrt(weight)`` for WLS.
By the Frisch-Waugh-Lovell theorem the slope estimates and the residuals are those
of the regression with explicit unit dummies, so every sandwich below is the one of
that dummy regression, for the slope coefficients.

Notation: ``N`` observations, ``K`` parameters of the full model (slopes, time
dummies and absorbed unit effects), ``G`` clusters, ``M = (X'X)^-1``, ``e`` the
residuals. The reference distribution (``df``) of each type is stated next to it:

``iid``  sigma^2 M with sigma^2 = e'e / (N-K); t(N-K). Classical within standard errors
         (Wooldridge 2010, eq. 10.56).
``HC1``  N/(N-K) * M (sum_i x_i x_i' e_i^2) M; t(N-K).
``CR0``  M (sum_g X_g' e_g e_g' X_g) M, no small-sample factor (Arellano 1987); t(G-1).
``CR1``  G/(G-1) * (N-1)/(N-K_c) * CR0; when units are nested in the clusters the
         unit effects count as one parameter in ``K_c`` (Stata's ``xtreg, fe
         vce(cluster)``: slopes, time dummies and the constant), else all count;
         t(G-1) as Stata. This equals fixest's default ``ssc()`` (checked in the tests).
``CR2``  Bell-McCaffrey: M (sum_g X_g' A_g e_g e_g' A_g X_g) M with
         A_g = (I - H_gg)^(-1/2) (symmetric square root, pseudo-inverse for singular
         blocks), H the hat matrix of the full dummy regression; working model
         Phi = I (Phi = W^-1 under WLS). Per-coefficient Satterthwaite df
         (Pustejovsky & Tipton 2018), as ``clubSandwich::coef_test(...,
         test = "Satterthwaite")`` on ``lm`` with unit dummies.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

VCOV_TYPES = ("iid", "HC1", "CR0", "CR1", "CR2")
CLUSTERED_TYPES = ("CR0", "CR1", "CR2")
FEW_CLUSTERS = 30
"""Below this many clusters CR0/CR1 t-tests over-reject; use CR2 or the wild bootstrap."""


class FewClustersWarning(UserWarning):
    """CR0/CR1 inference with fewer than ``FEW_CLUSTERS`` clusters."""


@dataclass
class LinearDesign:
    """A regression ready for OLS: transformed outcome, regressors and clusters.

    ``X`` and ``y`` are within-transformed (unit effects absorbed) and scaled by
    ``sqrt(weights)``. ``n_absorbed`` counts the absorbed unit effects (for degrees
    of freedom); ``absorbed_nested`` says whether each unit lies in one cluster.
    ``n_partialled`` counts regressors partialled out of ``X`` and ``y`` beforehand
    (period effects, Frisch-Waugh-Lovell): they count in K but are not reported.
    ``clusters`` holds integer codes ``0..G-1`` (or ``None``).
    """

    X: np.ndarray
    y: np.ndarray
    names: list[str]
    clusters: np.ndarray | None = None
    n_absorbed: int = 0
    absorbed_nested: bool = True
    weighted: bool = False
    n_partialled: int = 0

    @property
    def nobs(self) -> int:
        return self.X.shape[0]

    @property
    def n_params(self) -> int:
        """K: slopes (including time dummies, partialled or not) plus absorbed unit effects."""
        return self.X.shape[1] + self.n_partialled + self.n_absorbed

    @property
    def n_clusters(self) -> int:
        return 0 if self.clusters is None else int(self.clusters.max()) + 1

    def cr1_factor(self) -> float:
        """G/(G-1) * (N-1)/(N-K_c), Stata's ``xtreg, fe vce(cluster)`` convention.

        K_c counts unit effects nested in the clusters as one parameter (Stata's
        constant), all of them otherwise.
        """
        n, g = self.nobs, self.n_clusters
        k_c = self.X.shape[1] + self.n_partialled + (min(self.n_absorbed, 1) if self.absorbed_nested else self.n_absorbed)
        return g / (g - 1) * (n - 1) / (n - k_c)


@dataclass
class OLSFit:
    coef: np.ndarray
    resid: np.ndarray
    bread: np.ndarray  # M = (X'X)^-1


def fit_ols(design: LinearDesign) -> OLSFit:
    """OLS on the transformed design (full column rank is checked by the caller)."""
    bread = np.linalg.inv(design.X.T @ design.X)
    coef = bread @ (design.X.T @ design.y)
    return OLSFit(coef=coef, resid=design.y - design.X @ coef, bread=bread)


def covariance(design: LinearDesign, fit: OLSFit, vcov_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Covariance matrix of all slopes and the df of each slope's t reference.

    Returns ``(V, df)``; ``df`` is ``inf`` where the normal is the reference.
    """
    if vcov_type not in VCOV_TYPES:
        raise ValueError(f"vcov must be one of {VCOV_TYPES}, got {vcov_type!r}")
    n, k = design.X.shape
    df_resid = n - design.n_params
    if vcov_type in ("iid", "HC1") and df_resid <= 0:
        raise ValueError(f"no residual degrees of freedom: {n} observations, {design.n_params} parameters")
    M, X, e = fit.bread, design.X, fit.resid
    if vcov_type == "iid":
        return M * (e @ e / df_resid), np.full(k, float(df_resid))
    if vcov_type == "HC1":
        scores = X * e[:, None]
        return n / df_resid * M @ (scores.T @ scores) @ M, np.full(k, float(df_resid))

    check_clusters(design, vcov_type)
    g = design.n_clusters
    if vcov_type == "CR2":
        return cr2(design, fit)
    cluster_scores = _sum_by_cluster(X, design.clusters, g, e)
    V = M @ (cluster_scores.T @ cluster_scores) @ M
    if vcov_type == "CR1":
        V = V * design.cr1_factor()
    return V, np.full(k, float(g - 1))


def check_clusters(design: LinearDesign, vcov_type: str) -> None:
    """Raise for fewer than two clusters; warn for CR0/CR1 with few clusters."""
    if design.clusters is None:
        raise ValueError(f"vcov={vcov_type!r} needs a cluster column")
    g = design.n_clusters
    if g < 2:
        raise ValueError(
            f"vcov={vcov_type!r} needs at least 2 clusters, the data have {g}; "
            "use vcov='HC1' or a finer cluster"
        )
    if vcov_type in ("CR0", "CR1") and g < FEW_CLUSTERS:
        warnings.warn(
            f"{vcov_type} with {g} clusters (< {FEW_CLUSTERS}): t-tests over-reject; "
            "prefer vcov='CR2' (Satterthwaite df) or wild_cluster_bootstrap()",
            FewClustersWarning,
            stacklevel=4,
        )


def _sum_by_cluster(values: np.ndarray, clusters: np.ndarray, g: int, scale: np.ndarray | None = None):
    """Rows of ``values`` (times ``scale``, a row vector) summed within clusters: a (G, k) array."""
    return np.column_stack([np.bincount(clusters, weights=v if scale is None else v * scale, minlength=g)
                            for v in values.T])


def _clusters_by_size(clusters: np.ndarray, max_cells: int = 20_000_000):
    """Yield row-index arrays (c clusters x n_g rows) of equal-size clusters, in chunks."""
    order = np.argsort(clusters, kind="stable")
    sizes = np.bincount(clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for size in np.unique(sizes):
        ids = np.flatnonzero(sizes == size)
        chunk = max(1, max_cells // (size * size))
        for first in range(0, len(ids), chunk):
            block = ids[first : first + chunk]
            yield order[starts[block][:, None] + np.arange(size)[None, :]]


def _inverse_sqrt_psd(matrices: np.ndarray) -> np.ndarray:
    """Symmetric (pseudo-)inverse square root of a stack of PSD matrices (as clubSandwich)."""
    values, vectors = np.linalg.eigh(matrices)
    tol = 1e-12 * np.maximum(values.max(axis=-1, keepdims=True), 1.0)
    inv_sqrt = np.where(values > tol, 1.0 / np.sqrt(np.where(values > tol, values, 1.0)), 0.0)
    return (vectors * inv_sqrt[..., None, :]) @ np.swapaxes(vectors, -1, -2)


def cr2(design: LinearDesign, fit: OLSFit) -> tuple[np.ndarray, np.ndarray]:
    """Bell-McCaffrey CR2 covariance and per-coefficient Satterthwaite df.

    With the unit effects absorbed and each unit inside one cluster, the adjustment
    ``(I - H_gg)^-1/2`` of the dummy regression acts on the (unit-demeaned)
    residuals exactly as ``(I - Xw_g M Xw_g')^-1/2`` built from the within design
    (Pustejovsky & Tipton 2018, Theorem 2), so we never form the dummies. The
    Satterthwaite df of slope j is tr(Q)^2 / ||Q||_F^2 with
    Q_gh = 1[g=h] q_g'q_g - q_g'X_g M X_h'q_h and q_g = A_g X_g M e_j, i.e. the
    moments of the CR2 variance under the working model Phi = I.
    """
    if design.weighted:
        raise ValueError(
            "vcov='CR2' with weights is not supported: clubSandwich's weighted CR2 takes a "
            "different matrix square root and ours is not validated against it; use "
            "vcov='CR1' with wild_cluster_bootstrap()"
        )
    if not design.absorbed_nested:
        raise ValueError(
            "vcov='CR2' needs each unit inside one cluster (unit effects nested in clusters); "
            "cluster by the unit or by a grouping of units"
        )
    X, e, M = design.X, fit.resid, fit.bread
    k = X.shape[1]
    meat = np.zeros((k, k))
    # Pieces of the Satterthwaite moments, accumulated over clusters, one per slope j.
    sum_d = np.zeros(k)  # sum_g q_gj'q_gj
    sum_d2 = np.zeros(k)
    sum_dm = np.zeros(k)  # sum_g (q_gj'q_gj) (a_gj' M a_gj)
    sum_m = np.zeros(k)  # sum_g a_gj' M a_gj
    S = np.zeros((k, k, k))  # S[j] = sum_g a_gj a_gj'
    for rows in _clusters_by_size(design.clusters):
        Xg = X[rows]  # (c, n, k)
        hat = Xg @ M @ np.swapaxes(Xg, 1, 2)
        A = _inverse_sqrt_psd(np.eye(rows.shape[1]) - hat)
        adjusted = np.einsum("cnk,cnm,cm->ck", Xg, A, e[rows])
        meat += adjusted.T @ adjusted
        Q = A @ Xg @ M  # (c, n, k): q_gj in column j
        a = np.einsum("cnk,cnj->cjk", Xg, Q)  # a[c, j] = X_g' q_gj
        d = np.einsum("cnj,cnj->cj", Q, Q)
        m = np.einsum("cjk,kl,cjl->cj", a, M, a)
        sum_d += d.sum(0)
        sum_d2 += (d * d).sum(0)
        sum_dm += (d * m).sum(0)
        sum_m += m.sum(0)
        S += np.einsum("cjk,cjl->jkl", a, a)
    MS = M[None] @ S
    frob = sum_d2 - 2 * sum_dm + np.einsum("jkl,jlk->j", MS, MS)
    df = (sum_d - sum_m) ** 2 / frob
    return M @ meat @ M, df


def table_from(coef, V, df, alpha: float = 0.05):
    """(se, ci_low, ci_high, p) from estimates, covariance and t df (inf = normal)."""
    se = np.sqrt(np.diag(V))
    crit = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.t.sf(np.abs(coef / se), df)
    return se, coef - crit * se, coef + crit * se, p


# --------------------------------------------------------------------------- #
# Wild cluster bootstrap (restricted, WCR), p-value and test-inversion interval #
# --------------------------------------------------------------------------- #

WEBB_VALUES = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


@dataclass(frozen=True)
class WildBootstrapResult:
    """Result of :func:`wild_cluster_bootstrap` for one term."""

    term: str
    estimate: float
    t_stat: float
    p: float
    ci_low: float
    ci_high: float
    null: float
    alpha: float
    B: int
    weights: str
    seed: int | None
    n_clusters: int
    enumerated: bool

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def _bootstrap_weights(G: int, B: int, weights: str, seed) -> tuple[np.ndarray, bool]:
    """(G, B) weight matrix; all 2^G Rademacher sign vectors when 2^G <= B."""
    if weights == "rademacher":
        if 2**G <= B:
            codes = np.arange(2**G)
            signs = (codes[None, :] >> np.arange(G)[:, None]) & 1
            return 1.0 - 2.0 * signs, True
        rng = np.random.default_rng(seed)
        return rng.choice(np.array([-1.0, 1.0]), size=(G, B)), False
    if weights == "webb":
        rng = np.random.default_rng(seed)
        return rng.choice(WEBB_VALUES, size=(G, B)), False
    raise ValueError(f"weights must be 'rademacher' or 'webb', got {weights!r}")


def wild_cluster_bootstrap(
    result,
    term: str,
    B: int = 9999,
    weights: str = "rademacher",
    seed: int | None = None,
    null: float = 0.0,
    alpha: float | None = None,
) -> WildBootstrapResult:
    """Restricted wild cluster bootstrap (WCR) t-test of ``term == null`` and its interval.

    The null is imposed (restricted residuals u~), the bootstrap outcome is
    ``y* = X b~ + u~ * v_g`` with one weight ``v_g`` per cluster (Rademacher, or
    Webb's six-point weights, better below ~12 clusters), and the statistic is the
    CR1 t of ``term`` (Cameron, Gelbach & Miller 2008; Roodman et al. 2019's
    ``boottest``). p = share of |t*| >= |t|. With Rademacher weights and 2^G <= B all
    2^G sign vectors are enumerated (exact, no randomness). The interval collects the
    nulls not rejected at ``alpha``, found by bisection with the same weights (test
    inversion). Clusters are those of the estimation (``result.design``).
    Bootstrap t's are linear in the null, so each trial null costs O(B).
    """
    design: LinearDesign | None = result.linear_design()
    if design is None or design.clusters is None:
        raise ValueError("the result carries no clustered design; re-estimate with a cluster column")
    if term not in design.names:
        raise ValueError(f"term {term!r} not in the model; terms are {list(result.table.index)}")
    alpha = result.alpha if alpha is None else alpha
    G = design.n_clusters
    if G < 2:
        raise ValueError(f"the wild cluster bootstrap needs at least 2 clusters, got {G}")
    j = design.names.index(term)
    X, y, clusters = design.X, design.y, design.clusters
    fit = fit_ols(design)
    others = np.delete(X, j, axis=1)

    def residual_on_others(v):
        if others.shape[1] == 0:
            return v
        return v - others @ np.linalg.lstsq(others, v, rcond=None)[0]

    r_x = residual_on_others(X[:, j])  # x_j net of the other regressors
    r_y = residual_on_others(y)  # restricted residuals at null b0: r_y - b0 * r_x
    rxx = r_x @ r_x
    c = design.cr1_factor()
    se = math.sqrt(c * np.sum(_sum_by_cluster(r_x[:, None], clusters, G, fit.resid) ** 2)) / rxx
    estimate = float(fit.coef[j])

    V, enumerated = _bootstrap_weights(G, B, weights, seed)
    # Per-cluster pieces: s_g = r_xg' u_g, C_g = X_g' u_g, R_g = X_g' r_xg.
    s_y = _sum_by_cluster(r_x[:, None], clusters, G, r_y)[:, 0]
    s_x = _sum_by_cluster(r_x[:, None], clusters, G, r_x)[:, 0]
    C_y = _sum_by_cluster(X, clusters, G, r_y).T
    C_x = _sum_by_cluster(X, clusters, G, r_x).T
    RM = C_x.T @ fit.bread
    # Cluster score of x_j in the bootstrap regression: z = s*v - R M C v, linear in b0.
    Z_y = s_y[:, None] * V - RM @ (C_y @ V)
    Z_x = s_x[:, None] * V - RM @ (C_x @ V)
    num_y, num_x = s_y @ V, s_x @ V
    Q_yy, Q_xy, Q_xx = (Z_y * Z_y).sum(0), (Z_x * Z_y).sum(0), (Z_x * Z_x).sum(0)

    def p_value(b0: float) -> float:
        t_obs = (estimate - b0) / se
        denom = np.sqrt(np.maximum(c * (Q_yy - 2 * b0 * Q_xy + b0 * b0 * Q_xx), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = (num_y - b0 * num_x) / denom
        return float(np.mean(np.abs(np.nan_to_num(t_star)) >= abs(t_obs) - 1e-12))

    def boundary(direction: int) -> float:
        inside, step = estimate, se
        outside = estimate + direction * step
        while p_value(outside) > alpha:
            inside, step = outside, 2 * step
            outside = estimate + direction * step
            if step > 1e6 * max(se, 1e-12):
                return direction * math.inf
        for _ in range(100):
            middle = (inside + outside) / 2
            if p_value(middle) > alpha:
                inside = middle
            else:
                outside = middle
            if abs(outside - inside) <= 1e-8 * se:
                break
        return (inside + outside) / 2

    return WildBootstrapResult(
        term=term,
        estimate=estimate,
        t_stat=(estimate - null) / se,
        p=p_value(null),
        ci_low=boundary(-1),
        ci_high=boundary(+1),
        null=float(null),
        alpha=float(alpha),
        B=int(V.shape[1]),
        weights=weights,
        seed=seed,
        n_clusters=G,
        enumerated=enumerated,
    )
