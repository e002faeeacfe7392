"""Inference from influence functions, for ``att_gt`` and ``aggte``.

Analytic standard errors are ``sqrt(sum_i IF_i^2) / n`` (``did``'s
``sqrt(diag(IF'IF/n)/n)``), with the influence functions summed within clusters when
there is a cluster. The multiplier bootstrap (``did``'s ``mboot``) gives standard errors
and the critical value of a uniform band; the Wald pre-test of the pre-treatment ATT(g,t)
uses the influence-function covariance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

ZERO_SE = math.sqrt(np.finfo(float).eps) * 10  # did: standard errors below this are NA
BOOT_CHUNK = 8192  # units per block of multiplier draws (fixed: part of the seed's meaning)


class SampleInfluence:
    """An n x k influence matrix stored per sample: each block ``(rows, cols, values)`` gives
    columns ``cols`` as ``values`` (len(rows) x len(cols)) on the units ``rows`` and 0 elsewhere.

    ``att_gt``'s columns are zero outside their 2x2's sample, so the dense matrix (n x k,
    written once and mostly zeros) is built only on request (:meth:`dense`).
    """

    def __init__(self, n: int, k: int):
        self.shape = (n, k)
        self.blocks: list[tuple[np.ndarray, list[int], np.ndarray]] = []

    def add(self, rows: np.ndarray, cols: list[int], values: np.ndarray) -> None:
        self.blocks.append((rows, list(cols), values))

    def dense(self, which=None) -> np.ndarray:
        """The columns ``which`` (default all) as a dense n x len(which) array."""
        which = range(self.shape[1]) if which is None else which
        pos = {j: m for m, j in enumerate(which)}
        out = np.zeros((self.shape[0], len(pos)), order="F")
        for rows, cols, values in self.blocks:
            for m, j in enumerate(cols):
                if j in pos:
                    out[rows, pos[j]] = values[:, m]
        return out

    def combine(self, which, weights) -> np.ndarray:
        """``dense()[:, which] @ weights`` without the dense matrix."""
        pos = {j: m for m, j in enumerate(which)}
        out = np.zeros(self.shape[0])
        for rows, cols, values in self.blocks:
            sel = [m for m, j in enumerate(cols) if j in pos]
            if sel:
                out[rows] += values[:, sel] @ weights[[pos[cols[m]] for m in sel]]
        return out

    def analytic_se(self, cluster: np.ndarray | None) -> np.ndarray:
        """:func:`_analytic_se` of the dense matrix, block by block."""
        ss = np.zeros(self.shape[1])
        for rows, cols, values in self.blocks:
            psi = values if cluster is None else _cluster_sums(values, cluster[rows])
            ss[cols] = np.einsum("ij,ij->j", psi, psi)
        se = np.sqrt(ss) / self.shape[0]
        return np.where(se <= ZERO_SE, np.nan, se)


def _cluster_sums(IF: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return IF
    out = np.zeros((int(cluster.max()) + 1, IF.shape[1]))
    np.add.at(out, cluster, IF)
    return out


def _analytic_se(IF: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """sqrt(sum_c (sum_{i in c} IF_i)^2) / n; clusters = units when ``cluster`` is None."""
    n = IF.shape[0]
    psi = _cluster_sums(IF, cluster)
    se = np.sqrt(np.einsum("ij,ij->j", psi, psi)) / n
    return np.where(se <= ZERO_SE, np.nan, se)


def _multiplier_draws(IFs: list[np.ndarray], cluster, n_boot: int, seed) -> list[np.ndarray]:
    """For each influence matrix of ``IFs`` (same units), the (n_boot, k) draws of
    (1/n) sum_c v_c psi_c with Rademacher v_c (one per cluster or unit), the same v_c for all.

    Draws are generated in blocks of ``BOOT_CHUNK`` rows from ``numpy.random.default_rng(seed)``
    (same seed, same draws) and multiplied in float32 (error far below the Monte Carlo error);
    each block of signs is unpacked and converted once for all matrices.
    """
    n = IFs[0].shape[0]
    psis = [_cluster_sums(IF, cluster) for IF in IFs]
    rng = np.random.default_rng(seed)
    accs = [np.zeros((psi.shape[1], n_boot)) for psi in psis]
    nbytes = (n_boot + 7) // 8
    for start in range(0, psis[0].shape[0], BOOT_CHUNK):
        size = min(BOOT_CHUNK, psis[0].shape[0] - start)
        bits = np.unpackbits(rng.integers(0, 256, size=(size, nbytes), dtype=np.uint8),
                             axis=1, count=n_boot).astype(np.float32)
        for psi, acc in zip(psis, accs):
            block = psi[start : start + BOOT_CHUNK]
            # sum v psi with v = 2 bit - 1
            acc += 2.0 * (block.T.astype(np.float32) @ bits) - block.sum(0)[:, None]
    return [acc.T / n for acc in accs]


def _bootstrap(draws, alpha):
    """did's mboot from :func:`_multiplier_draws`: IQR-based standard errors and the sup-t
    critical value of a uniform band."""
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    se = np.where(se <= ZERO_SE, np.nan, se)
    ok = np.isfinite(se)
    if not ok.any():
        return se, float("nan")
    t_max = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    crit = float(np.quantile(t_max, 1 - alpha, method="inverted_cdf"))  # R's type = 1
    return se, crit


def _intervals(est, se, crit):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    return est - crit * se, est + crit * se, p


def _pretest(att, IF: SampleInfluence, groups, times, se, cluster) -> dict[str, Any]:
    """Wald test that all pre-treatment ATT(g,t) (group > time) are zero, as R did.

    W = n att' V^-1 att with V = psi'psi/n the influence-function covariance
    (per-cluster sums with a cluster); p from chi2(q). Cells with a zero or missing
    standard error (e.g. the universal base period) are left out.
    """
    pre = np.flatnonzero((groups > times) & np.isfinite(se) & np.isfinite(att))
    if pre.size == 0:
        return {"W": None, "df": 0, "p": None, "note": "no pre-treatment ATT(g,t)"}
    n = IF.shape[0]
    psi = _cluster_sums(IF.dense(pre), cluster)
    V = psi.T @ psi / n
    if 1.0 / np.linalg.cond(V) <= np.finfo(float).eps:
        return {"W": None, "df": int(pre.size), "p": None, "note": "singular covariance"}
    a = att[pre]
    W = float(n * a @ np.linalg.solve(V, a))
    return {"W": W, "df": int(pre.size), "p": float(stats.chi2.sf(W, pre.size))}
