"""Difference in differences with a continuous treatment (Callaway, Goodman-Bacon and
Sant'Anna 2024, "Difference-in-differences with a continuous treatment", NBER WP 32117;
R package ``contdid``).

Written here, not imported: the one Python implementation, ``diff-diff``'s
``ContinuousDiD``, is a young, fast-moving package (a 3.x release with deprecations
under way) that issue 15 admits only as a peer in a benchmark venv, never as a project
dependency; ``benchmarks/dose_response_benchmark.py`` runs both on the same data.

Data: one row per unit (firm) with a dose ``D >= 0`` (``D = 0``: the comparison group)
and the long difference ``dY`` of its outcome (after minus before). Estimands, for
doses ``d > 0`` of the treated:

* ``ATT(d|d) = E[dY(d) - dY(0) | D = d]``, identified by **standard parallel trends**
  (``E[dY(0) | D = d] = E[dY(0) | D = 0]``) as ``E[dY | D = d] - E[dY | D = 0]``;
* ``ACRT(d) = d ATT(d) / dd = d E[dY | D = d] / dd``, the average causal response. It is
  a causal effect of a marginal change in dose only under **strong parallel trends**
  (``E[dY(d) - dY(0) | D = d'] = E[dY(d) - dY(0) | D = d]`` for all doses: no selection on
  the gains); under standard parallel trends alone it mixes the effect with selection bias;
* their aggregations over the treated, ``ATT^o = E[ATT(D|D) | D > 0]`` and
  ``ACRT^o = E[ACRT(D) | D > 0]``.

Estimation. ``E[dY | D = d]`` among the treated is a B-spline sieve regression (OLS) of
``dY`` on ``B(d)``: degree ``degree`` (3), ``knots`` interior knots at equally spaced
quantiles of the treated doses, fixed (default 0, a cubic polynomial: ``contdid``'s default)
or chosen by leave-one-out cross-validation among ``0..max_knots`` (``knots="cv"``; ties:
fewer knots; the intervals then ignore the selection and undercover a little: 89% band
coverage in ``tests/methods``' linear simulation, against 95% with fixed knots); on the dose (``scale="linear"``) or on its
log (``scale="log"``: for doses spread over orders of magnitude; then
``ACRT(d) = B'(log d) beta / d``). The comparison term is the mean ``dY`` of the
comparison group or, with ``covariates`` (conditional parallel trends), the regression
adjustment ``m0(X) = X gamma`` fitted on the comparison group: ``ATT(d) = E[dY - m0(X) |
D = d]``, the sieve regression of ``dY - X gamma`` (an intercept alone gives the mean).

Inference. Influence functions of ``beta`` (treated: ``(B'B)^-1 B_i e_i``; comparison,
through ``gamma``: ``-(B'B)^-1 B'X_1 (X_0'X_0)^-1 X_j u_j``) and of the aggregations (plus
the term of the dose distribution), summed by cluster (by unit unless ``cluster`` is
given) with the factor ``G / (G - 1)``: pointwise standard errors and normal intervals.
Uniform bands over the dose grid: sup-t critical value of the multiplier bootstrap
(Rademacher weights per cluster, ``bootstrap`` draws, ``seed``; 0 draws: no bands). The knots (and their
number) are treated as fixed given the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import interpolate, stats

from evaluation.methods.errors import DesignError

MIN_TREATED = 10
MIN_COMPARISON = 2
SCALES = ("linear", "log")


@dataclass(frozen=True)
class Basis:
    """B-spline basis of ``degree`` with clamped ``knots`` on the (transformed) dose."""

    knots: np.ndarray
    degree: int
    scale: str

    @classmethod
    def build(cls, dose: np.ndarray, degree: int, interior: int, scale: str) -> "Basis":
        x = _transform(dose, scale)
        lo, hi = float(x.min()), float(x.max())
        inner = np.quantile(x, np.linspace(0, 1, interior + 2)[1:-1]) if interior else np.array([])
        return cls(np.r_[[lo] * (degree + 1), inner, [hi] * (degree + 1)], degree, scale)

    @property
    def size(self) -> int:
        return len(self.knots) - self.degree - 1

    def _spline(self) -> interpolate.BSpline:
        return interpolate.BSpline(self.knots, np.eye(self.size), self.degree, extrapolate=True)

    def values(self, dose) -> np.ndarray:
        """``B(d)``, one row per dose."""
        return self._spline()(_transform(np.asarray(dose, dtype=float), self.scale))

    def derivatives(self, dose) -> np.ndarray:
        """``dB(d)/dd`` (chain rule ``B'(log d) / d`` on the log scale)."""
        dose = np.asarray(dose, dtype=float)
        d = self._spline().derivative()(_transform(dose, self.scale))
        return d / dose[:, None] if self.scale == "log" else d


def _transform(dose: np.ndarray, scale: str) -> np.ndarray:
    return np.log(dose) if scale == "log" else dose


@dataclass
class DoseResponseResult:
    """``curve``: per grid dose ``dose, att, att_se, att_ci_low, att_ci_high, att_band_low,
    att_band_high`` and the same for ``acrt`` (pointwise 95% intervals, uniform bands).
    ``aggregate``: rows ``ATT^o`` and ``ACRT^o`` with ``estimate, se, ci_low, ci_high, p``.
    ``crit``: the sup-t critical values ``{"att", "acrt"}``; ``basis``: the sieve."""

    curve: pd.DataFrame
    aggregate: pd.DataFrame
    crit: dict
    basis: Basis
    n_treated: int
    n_comparison: int
    treated_doses: np.ndarray
    cv: dict = field(default_factory=dict)

    @property
    def knots(self) -> int:
        return self.basis.size - self.basis.degree - 1

    def project(self, dose, values, at=None, knots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A known function of the dose seen through a spline: OLS of ``values`` on ``B(dose)``,
        evaluated as level and derivative at ``at`` (default: the grid). ``B`` is the
        estimate's basis, or with ``knots`` one of the same degree and scale with that many
        interior knots at quantiles of ``dose`` (a richer one traces a smooth truth closely)."""
        dose = np.asarray(dose, dtype=float)
        basis = self.basis if knots is None else Basis.build(dose, self.basis.degree, knots, self.basis.scale)
        coef = np.linalg.lstsq(basis.values(dose), np.asarray(values, dtype=float), rcond=None)[0]
        grid = self.curve["dose"].to_numpy() if at is None else np.asarray(at, dtype=float)
        return basis.values(grid) @ coef, basis.derivatives(grid) @ coef


def _loo_cv(b: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out mean squared error of OLS, ``mean((e_i / (1 - h_ii))^2)``."""
    q, _ = np.linalg.qr(b)
    h = np.einsum("ij,ij->i", q, q)
    e = y - q @ (q.T @ y)
    if np.any(h > 1 - 1e-8):
        return np.inf
    return float(np.mean((e / (1 - h)) ** 2))


def _design(frame: pd.DataFrame, covariates) -> np.ndarray:
    """Intercept plus dummies of categorical covariates (first level left out) and numeric ones."""
    parts = [np.ones((len(frame), 1))]
    for c in covariates or ():
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(col.to_numpy(float)[:, None])
        else:
            levels = sorted(col.astype(str).unique())
            parts.append(np.column_stack([(col.astype(str) == v).to_numpy(float) for v in levels[1:]])
                         if len(levels) > 1 else np.empty((len(frame), 0)))
    return np.hstack(parts)


def _check(frame: pd.DataFrame, dose: str, outcome: str, covariates, degree: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [c for c in (dose, outcome, *(covariates or ())) if c not in frame.columns]
    if missing:
        raise DesignError(f"the dose-response data lack the columns {missing}.")
    d = frame.dropna(subset=[dose, outcome, *(covariates or ())])
    if (d[dose] < 0).any():
        raise DesignError("a dose is negative; doses must be 0 (comparison) or positive.")
    treated, comparison = d[d[dose] > 0], d[d[dose] == 0]
    if len(comparison) < MIN_COMPARISON:
        raise DesignError(f"{len(comparison)} comparison units (dose 0) have an outcome; the comparison of a "
                          f"continuous treatment needs at least {MIN_COMPARISON}.")
    if len(treated) < MIN_TREATED:
        raise DesignError(f"{len(treated)} treated units have a dose and an outcome; a dose-response curve needs "
                          f"at least {MIN_TREATED}.")
    distinct = treated[dose].nunique()
    if distinct < degree + 2:
        raise DesignError(f"the treated units have {distinct} distinct dose{'s' if distinct != 1 else ''}; a curve of "
                          f"degree {degree} over the dose needs at least {degree + 2}.")
    for c in covariates or ():
        if not pd.api.types.is_numeric_dtype(d[c]) or pd.api.types.is_bool_dtype(d[c]):
            absent = sorted(set(treated[c].astype(str)) - set(comparison[c].astype(str)))
            if absent:
                raise DesignError(f"no comparison unit has {c} = {', '.join(absent)}, so the trend of treated units "
                                  "with that value has no counterpart.")
    return treated, comparison


def dose_response(frame: pd.DataFrame, dose: str, outcome: str, covariates=None, cluster: str | None = None,
                  degree: int = 3, knots: int | str = 0, max_knots: int = 4, scale: str = "linear",
                  grid=None, grid_points: int = 50, grid_quantiles=(0.05, 0.95), alpha: float = 0.05,
                  bootstrap: int = 999, seed: int = 0) -> DoseResponseResult:
    """ATT(d), ACRT(d) on a dose grid with pointwise intervals and uniform bands, and
    ``ATT^o``, ``ACRT^o`` (module docstring). ``frame``: one row per unit with ``dose``
    (0 for the comparison group) and ``outcome`` (the long difference). ``grid``: doses,
    else ``grid_points`` doses evenly spaced (on ``scale``) between the ``grid_quantiles``
    of the treated doses. ``DesignError`` when the data cannot support the curve."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    treated, comparison = _check(frame, dose, outcome, covariates, degree)
    d1, y1, y0 = (treated[dose].to_numpy(float), treated[outcome].to_numpy(float), comparison[outcome].to_numpy(float))
    x_all = _design(pd.concat([treated, comparison]), covariates)
    x1, x0 = x_all[: len(treated)], x_all[len(treated):]
    if np.linalg.matrix_rank(x0) < x0.shape[1]:
        raise DesignError("the comparison units' covariates are collinear (a value held by too few of them), so their "
                          "trend cannot be adjusted for them.")
    xtx0_inv = np.linalg.inv(x0.T @ x0)
    gamma = xtx0_inv @ x0.T @ y0
    u = y0 - x0 @ gamma
    ytilde = y1 - x1 @ gamma

    cv = {}
    if knots == "cv":
        for k in range(max_knots + 1):
            b = Basis.build(d1, degree, k, scale)
            if b.size + 2 > len(d1) or b.size > len(np.unique(d1)):
                break
            cv[k] = _loo_cv(b.values(d1), ytilde)
        if not cv or not np.isfinite(min(cv.values())):
            raise DesignError("no B-spline of the dose could be fitted to the treated units.")
        knots = min(cv, key=lambda k: (round(cv[k], 12), k))
    basis = Basis.build(d1, degree, int(knots), scale)
    b1 = basis.values(d1)
    if np.linalg.matrix_rank(b1) < basis.size:
        raise DesignError("the treated units' doses do not support the B-spline (too few distinct doses between knots).")
    btb_inv = np.linalg.inv(b1.T @ b1)
    beta = btb_inv @ b1.T @ ytilde
    e = ytilde - b1 @ beta

    # influence of beta: rows treated then comparison (sums, not means)
    infl_beta = np.vstack([(btb_inv @ (b1 * e[:, None]).T).T,
                           -(btb_inv @ b1.T @ x1 @ xtx0_inv @ (x0 * u[:, None]).T).T])

    if grid is None:
        lo, hi = np.quantile(d1, grid_quantiles)
        grid = np.exp(np.linspace(np.log(lo), np.log(hi), grid_points)) if scale == "log" else np.linspace(lo, hi, grid_points)
    grid = np.asarray(grid, dtype=float)
    bg, dg = basis.values(grid), basis.derivatives(grid)
    n1 = len(d1)
    db1 = basis.derivatives(d1)
    att_o, acrt_o = float(np.mean(b1 @ beta)), float(np.mean(db1 @ beta))
    pad = np.r_[np.ones(n1), np.zeros(len(y0))] / n1
    infl_agg = np.column_stack([infl_beta @ b1.mean(axis=0) + pad * np.r_[b1 @ beta - att_o, np.zeros(len(y0))],
                                infl_beta @ db1.mean(axis=0) + pad * np.r_[db1 @ beta - acrt_o, np.zeros(len(y0))]])
    infl = np.hstack([infl_beta @ bg.T, infl_beta @ dg.T, infl_agg])
    if cluster is not None:
        ids = pd.concat([treated[cluster], comparison[cluster]]).to_numpy()
        codes, uniques = pd.factorize(ids)
        infl = np.vstack([np.bincount(codes, weights=infl[:, j], minlength=len(uniques)) for j in range(infl.shape[1])]).T
    g = infl.shape[0]
    infl = infl * np.sqrt(g / (g - 1))
    se = np.sqrt(np.einsum("ij,ij->j", infl, infl))
    m = len(grid)
    theta = np.r_[bg @ beta, dg @ beta, att_o, acrt_o]

    rng = np.random.default_rng(seed)
    crit = {}
    z = float(stats.norm.isf(alpha / 2))
    for name, cols in (("att", slice(0, m)), ("acrt", slice(m, 2 * m))):
        s = se[cols]
        ok = s > 0
        draws = np.empty(bootstrap)
        for start in range(0, bootstrap, 200):
            w = rng.choice((-1.0, 1.0), size=(min(200, bootstrap - start), g))
            draws[start:start + len(w)] = np.max(np.abs(w @ infl[:, cols][:, ok]) / s[ok], axis=1)
        crit[name] = float(np.quantile(draws, 1 - alpha)) if ok.any() and bootstrap > 0 else np.nan

    curve = pd.DataFrame({"dose": grid})
    for name, cols in (("att", slice(0, m)), ("acrt", slice(m, 2 * m))):
        est, s = theta[cols], se[cols]
        curve[name], curve[f"{name}_se"] = est, s
        curve[f"{name}_ci_low"], curve[f"{name}_ci_high"] = est - z * s, est + z * s
        curve[f"{name}_band_low"], curve[f"{name}_band_high"] = est - crit[name] * s, est + crit[name] * s
    agg = pd.DataFrame({"measure": ["ATT^o", "ACRT^o"], "estimate": theta[-2:], "se": se[-2:]})
    agg["ci_low"], agg["ci_high"] = agg["estimate"] - z * agg["se"], agg["estimate"] + z * agg["se"]
    agg["p"] = 2 * stats.norm.sf(np.abs(agg["estimate"] / agg["se"]))
    return DoseResponseResult(curve=curve, aggregate=agg, crit=crit, basis=basis, n_treated=n1,
                              n_comparison=len(y0), treated_doses=d1, cv=cv)
