"""Inference from influence functions, for ``att_gt`` and ``aggte``.

Analytic standard errors are ``sqrt(sum_i IF_i^2) / n`` (``did``'s
``sqrt(diag(IF'IF/n)/n)``), with the influence functions summed within clusters when
there is a cluster. The multiplier bootstrap (``did``'s ``mboot``) gives standard errors
and the critical value of a uniform band; the Wald pre-test of the pre-treatment ATT(g,t)
uses the influence-function covariance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

ZERO_SE = math.sqrt(np.finfo(float).eps) * 10  # did: standard errors below this are NA
BOOT_CHUNK = 8192  # units per block of multiplier draws (fixed: part of the seed's meaning)
PATTERN_ROWS = 256  # rows of a pattern of nonzero columns below which it joins the rare rows


@dataclass(frozen=True)
class MultiplierDraws:
    """``att_gt``'s multiplier draws, kept for ``aggte``: ``cells`` (n_boot x k) of the
    ATT(g,t), ``shares`` (n_boot x groups) of (1/n) sum_i v_i w_i 1[G_i = g], the group
    shares' part of an aggregate's influence function, with the signs of ``seed``."""

    n_boot: int
    seed: Any
    cells: np.ndarray
    shares: np.ndarray


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
        """A block: ``values`` (len(rows) x len(cols)) on the ascending unit indices ``rows``."""
        if np.any(np.diff(rows) <= 0):
            raise ValueError("SampleInfluence: a block's rows must be ascending unit indices")
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

    def cluster_sums(self, cluster: np.ndarray | None) -> SampleInfluence:
        """The matrix of per-cluster sums (one row per cluster code), block by block."""
        if cluster is None:
            return self
        out = SampleInfluence(int(cluster.max()) + 1, self.shape[1])
        for rows, cols, values in self.blocks:
            present, inverse = np.unique(cluster[rows], return_inverse=True)
            out.add(present, cols, _cluster_sums(values, inverse))
        return out

    def row_patterns(self, min_rows: int) -> tuple[np.ndarray, list[np.ndarray], list[list[int]]]:
        """Rows grouped by their nonzero columns: ``(pattern, columns, blocks)``, a code per row,
        and per code the columns nonzero in some of its rows and the blocks holding its rows.
        Patterns of fewer than ``min_rows`` rows share one code (with all their columns)."""
        n, k = self.shape
        nonzero = [values != 0 for _, _, values in self.blocks]
        codes = np.zeros(n, np.int64)  # equal for rows with the same zeros in every block so far
        next_code = 1
        for (rows, _, _), nz in zip(self.blocks, nonzero):
            if len(rows):
                within = _pattern_codes(nz)
                fresh = pd.factorize(codes[rows] * (int(within.max()) + 1) + within)[0]
                codes[rows] = next_code + fresh
                next_code += int(fresh.max()) + 1
        codes = pd.factorize(codes)[0]
        sizes = np.bincount(codes)
        pattern = pd.factorize(np.where(sizes[codes] >= min_rows, codes, -1), sort=True)[0]
        n_patterns = int(pattern.max(initial=-1)) + 1
        pattern = pattern.astype(np.min_scalar_type(n_patterns))  # small integers: radix sorts
        used = np.zeros((n_patterns, k), bool)
        blocks: list[list[int]] = [[] for _ in range(n_patterns)]
        for b, ((rows, cols, _), nz) in enumerate(zip(self.blocks, nonzero)):
            if len(rows):
                order = np.argsort(pattern[rows], kind="stable")
                first, present = _runs(pattern[rows][order])
                used[np.ix_(present, cols)] |= np.logical_or.reduceat(nz[order], first, axis=0)
                for p in present:
                    blocks[p].append(b)
        return pattern, [np.flatnonzero(u) for u in used], blocks


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


def _multiplier_signs(n_rows: int, n_boot: int, seed):
    """Rademacher signs as bits, ``(start, bytes)`` for each block of ``BOOT_CHUNK`` rows, the
    bytes ``(rows, ceil(n_boot / 8))``: bit b of row i is 1 when v_ib = +1. Uniform bytes from
    ``numpy.random.default_rng(seed)``: the same seed and rows give the same signs."""
    rng = np.random.default_rng(seed)
    nbytes = (n_boot + 7) // 8
    for start in range(0, n_rows, BOOT_CHUNK):
        shape = (min(BOOT_CHUNK, n_rows - start), nbytes)
        if shape[0] * nbytes % 8 == 0:
            # numpy draws bytes four to a 32-bit word and those two to a 64-bit word, so
            # 64-bit words give the same bytes, faster (a test checks it against bytes)
            words = rng.integers(0, 2**64 - 1, size=shape[0] * nbytes // 8, dtype=np.uint64, endpoint=True)
            yield start, words.astype("<u8", copy=False).view(np.uint8).reshape(shape)
        else:
            yield start, rng.integers(0, 256, size=shape, dtype=np.uint8)


def _runs(sorted_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values of ``sorted_codes`` starts, and its value."""
    first = np.flatnonzero(np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]]))
    return first, sorted_codes[first]


def _as_slice(index: np.ndarray):
    """``index`` as a slice when it is a run of consecutive integers (a faster copy)."""
    if index.size and index[-1] - index[0] == index.size - 1 and np.all(np.diff(index) == 1):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _pattern_codes(nonzero: np.ndarray) -> np.ndarray:
    """A code per row of the boolean matrix ``nonzero``, equal for rows with the same pattern
    (0 for rows without a zero: most rows of an influence block)."""
    codes = np.zeros(len(nonzero), np.int64)
    partial = np.flatnonzero(~nonzero.all(1))
    if partial.size == 0:
        return codes
    packed = np.packbits(nonzero[partial], axis=1)
    words = np.zeros((partial.size, -(-packed.shape[1] // 8) * 8), np.uint8)
    words[:, : packed.shape[1]] = packed
    within = np.zeros(partial.size, np.int64)
    for word in words.view(np.uint64).T:  # hashing one 64-bit word at a time (pandas' factorize)
        word_codes, uniques = pd.factorize(word)
        within = pd.factorize(within * len(uniques) + word_codes)[0]
    codes[partial] = within + 1
    return codes


def _multiplier_draws(IF: SampleInfluence, cluster, n_boot: int, seed) -> np.ndarray:
    """The (n_boot, k) draws of (1/n) sum_c v_c psi_c for the n x k influence matrix ``IF``
    (psi_c its sums within clusters, or its rows), Rademacher v_c from :func:`_multiplier_signs`.

    A row adds nothing to the columns where it is 0 (a unit outside a 2x2's sample): the
    rows of each block of signs are taken by pattern of nonzero columns
    (:meth:`SampleInfluence.row_patterns`) and multiplied with those columns only, in
    float32 (error far below the Monte Carlo error). sum v psi = 2 sum_{v=+1} psi - sum psi.
    """
    psi = IF.cluster_sums(cluster)
    pattern, columns, pattern_blocks = psi.row_patterns(PATTERN_ROWS)
    order = np.argsort(pattern, kind="stable")
    rows_of = np.split(order, np.cumsum(np.bincount(pattern, minlength=len(columns)))[:-1])
    sources = []  # per pattern, per block: where its rows are in the block, and its columns
    for p, blocks in enumerate(pattern_blocks):
        sources.append([])
        for b in blocks if columns[p].size else []:  # rows that are 0 everywhere add nothing
            rows, cols, values = psi.blocks[b]
            at = np.minimum(np.searchsorted(rows, rows_of[p]), rows.size - 1)
            found = rows[at] == rows_of[p]
            col_at = np.minimum(np.searchsorted(columns[p], cols), columns[p].size - 1)
            keep = np.flatnonzero(columns[p][col_at] == cols)
            sources[p].append((values if keep.size == len(cols) else values[:, keep], at, found,
                               bool(found.all()), _as_slice(col_at[keep])))
    positive = [np.zeros((cols.size, n_boot)) for cols in columns]
    for start, signs in _multiplier_signs(psi.shape[0], n_boot, seed):
        for p, here in enumerate(rows_of):
            lo, hi = np.searchsorted(here, [start, start + len(signs)])
            if lo == hi or not columns[p].size:
                continue
            piece = np.zeros((hi - lo, columns[p].size), np.float32)
            for values, at, found, complete, into in sources[p]:
                if complete:
                    piece[:, into] = values[at[lo:hi]]
                else:
                    inside = np.flatnonzero(found[lo:hi])
                    piece[inside[:, None], np.arange(columns[p].size)[into]] = values[at[lo:hi][inside]]
            bits = np.unpackbits(signs[here[lo:hi] - start], axis=1, count=n_boot).astype(np.float32)
            positive[p] += piece.T @ bits
    acc = np.zeros((psi.shape[1], n_boot))
    for cols, plus in zip(columns, positive):
        acc[cols] += 2.0 * plus
    for _, cols, values in psi.blocks:
        acc[cols] -= values.sum(0)[:, None]
    return acc.T / IF.shape[0]


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
