r"""Selection on observables: propensity score, matching, weighting, balance, matched DiD.

The steps are separate functions on firm-level inputs (one row per firm, index
``firm_id``), so that each can be checked on its own:

1. :func:`propensity_score`: logit of the treated-group indicator on pre-call
   covariates (:func:`evaluation.study.comparison.pre_call_covariates`), by statsmodels;
   refuses missing covariates and separation, naming the covariate.
2. :func:`trim_common_support`: which firms lie in the region of common support
   (min-max overlap, or Crump, Hotz, Imbens & Mitnik 2009).
3. :func:`nearest_neighbour_match` (on the logit of the score, with a caliper of
   0.2 pooled standard deviations, Austin 2011) or :func:`ipw_weights` (odds weights
   for the ATT): firm weights.
4. :func:`balance_table` and :func:`plot_love`: standardised mean differences and
   variance ratios before and after.
5. :func:`matched_did`: two-way fixed-effects difference in differences on a
   unit-period panel, weighted by the unit weights.

Conventions. ``treated`` is a 0/1 Series indexed by ``firm_id``
(:func:`evaluation.study.comparison.treated_indicator`); scores and weights are Series on
the same index. Every function aligns on the index (row order and firm labels do not
matter) and raises :class:`~evaluation.methods.errors.DesignError` (a ``ValueError``) rather
than return a number from a design that cannot support it: missing covariates,
perfect or quasi-perfect separation (:class:`SeparationError`), an empty group after
trimming or matching.

Standard errors of :func:`matched_did` treat the weights as fixed (they condition on
the matched sample and do not account for the estimation of the propensity score).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.discrete.discrete_model as sm  # Logit only; statsmodels.api imports much more
from scipy.special import expit, logit

from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import twfe
from evaluation.methods.results import EstimationResult

SEPARATION_TOLERANCE = 1e-6
"""A fitted probability within this distance of 0 or 1 signals (quasi-)separation."""
TIE_TOLERANCE = 1e-12
"""Relative tolerance under which two matching distances are a tie."""


class SeparationError(DesignError):
    """The covariates predict treatment (quasi-)perfectly: the logit has no finite
    maximum-likelihood estimate. ``covariate`` names the covariate (or level) at fault."""

    def __init__(self, message: str, covariate: str):
        super().__init__(message)
        self.covariate = covariate


# --------------------------------------------------------------------------- helpers


def _aligned_treated(treated: pd.Series, index: pd.Index | None = None) -> pd.Series:
    """``treated`` as int 0/1 (optionally reindexed to ``index``); raise if it is not
    0/1, has missing firms, or lacks one of the two groups."""
    if index is not None:
        missing = index.difference(treated.index)
        if len(missing):
            raise DesignError(f"treated has no value for {len(missing)} firm(s), e.g. {list(missing[:3])}")
        treated = treated.reindex(index)
    values = pd.to_numeric(treated, errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise DesignError("treated must be a 0/1 indicator without missing values")
    values = values.astype(int)
    for side, label in ((1, "treated"), (0, "control")):
        if not (values == side).any():
            raise DesignError(f"no {label} firms: both groups are needed")
    return values


def _check_score(score: pd.Series) -> pd.Series:
    values = score.astype(float)
    if not ((values > 0) & (values < 1)).all():
        raise DesignError("propensity scores must lie strictly between 0 and 1")
    return values


def design_matrix(covariates: pd.DataFrame) -> pd.DataFrame:
    """The logit's regressors: a constant, numeric columns as they are, and each
    categorical (string) column as dummies ``"<column>=<level>"`` for every level but
    the first in sorted order (the reference, as patsy's ``C()``)."""
    parts = [pd.Series(1.0, index=covariates.index, name="const")]
    for column in covariates.columns:
        values = covariates[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            parts.append(values.astype(float))
        else:
            levels = sorted(values.astype(str).unique())
            for level in levels[1:]:
                parts.append((values.astype(str) == level).astype(float).rename(f"{column}={level}"))
    return pd.concat(parts, axis=1)


def _expanded(covariates: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as they are; categorical columns as dummies for *every* level."""
    parts = []
    for column in covariates.columns:
        values = covariates[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            parts.append(values.astype(float))
        else:
            for level in sorted(values.astype(str).unique()):
                parts.append((values.astype(str) == level).astype(float).rename(f"{column}={level}"))
    return pd.concat(parts, axis=1)


# --------------------------------------------------------------------------- propensity score


@dataclass(frozen=True)
class PropensityResult:
    """A fitted propensity score.

    ``score``: e(x) = P(treated = 1 | x) by firm; ``linear``: the index
    x'b = log(e / (1 - e)); ``treated``: the 0/1 indicator used; ``params``, ``bse``:
    logit coefficients and their (inverse-Hessian) standard errors, indexed by the
    columns of :func:`design_matrix`; ``fit``: the statsmodels ``LogitResults``.
    """

    score: pd.Series
    linear: pd.Series
    treated: pd.Series
    params: pd.Series
    bse: pd.Series
    fit: Any = dataclasses.field(repr=False, compare=False)

    def summary(self) -> str:
        """statsmodels' summary of the logit."""
        return str(self.fit.summary())


def propensity_score(
    covariates: pd.DataFrame, treated: pd.Series, columns: list[str] | None = None
) -> PropensityResult:
    """Logit of ``treated`` on ``covariates[columns]`` (all columns by default).

    ``P(treated = 1 | x) = 1 / (1 + exp(-x'b))`` with x = :func:`design_matrix`
    (constant, numeric columns, dummies of categorical columns), fitted by Newton's
    method in ``statsmodels.Logit``; the same model as
    ``smf.logit("treated ~ C(size_class) + ... + pre_mean_log_turnover_eur + ...")``.

    Raises :class:`~evaluation.methods.errors.DesignError` for missing covariate values
    (naming the columns and counting firms by group), a constant or collinear design
    column, and :class:`SeparationError` when the MLE does not exist:

    * a categorical level held only by treated or only by control firms;
    * a numeric covariate whose treated and control ranges do not overlap (all treated
      at or above every control, or at or below);
    * otherwise, fitted probabilities within ``SEPARATION_TOLERANCE`` of 0 or 1
      (separation by a combination of covariates); the error names the covariate with
      the largest standardised coefficient |b_j| sd(x_j).
    """
    covariates = covariates if columns is None else covariates[list(columns)]
    if covariates.shape[1] == 0:
        raise DesignError("propensity_score needs at least one covariate")
    y = _aligned_treated(treated, covariates.index)
    incomplete = covariates.isna()
    if incomplete.to_numpy().any():
        detail = "; ".join(
            f"{c!r}: {int(incomplete[c][y == 1].sum())} treated and {int(incomplete[c][y == 0].sum())} control firms"
            for c in covariates.columns if incomplete[c].any()
        )
        raise DesignError(
            f"propensity_score: missing covariate values ({detail}); drop those firms "
            "(e.g. covariates.dropna(), if the estimand allows) or those covariates"
        )
    X = design_matrix(covariates)
    _check_rank(X)
    _check_separation(covariates, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and separation are checked below
        fit = sm.Logit(y.to_numpy(float), X).fit(method="newton", maxiter=200, disp=0)
    linear = pd.Series(X.to_numpy() @ fit.params.to_numpy(), index=X.index, name="linear")
    score = pd.Series(expit(linear.to_numpy()), index=X.index, name="score")
    extreme = (score < SEPARATION_TOLERANCE) | (score > 1 - SEPARATION_TOLERANCE)
    if extreme.any() or not fit.mle_retvals["converged"]:
        standardised = (fit.params.drop("const") * X.drop(columns="const").std()).abs()
        culprit = str(standardised.idxmax())
        raise SeparationError(
            f"propensity_score: quasi-perfect separation, {int(extreme.sum())} firm(s) get a fitted "
            f"probability of 0 or 1 (converged: {fit.mle_retvals['converged']}); the largest "
            f"standardised coefficient is {culprit!r}: drop or coarsen it",
            culprit,
        )
    return PropensityResult(score=score, linear=linear, treated=y, params=fit.params, bse=fit.bse, fit=fit)


def _check_separation(covariates: pd.DataFrame, y: pd.Series) -> None:
    for column, values in _expanded(covariates).items():
        if "=" in str(column):
            held = values == 1
            groups = y[held].unique()
            if len(groups) == 1 and held.sum() < len(y):
                side = "treated" if groups[0] == 1 else "control"
                raise SeparationError(
                    f"propensity_score: perfect separation, level {column!r} is held only by "
                    f"{side} firms ({int(held.sum())}); pool it with another level or drop the covariate",
                    str(column),
                )
        else:
            t, c = values[y == 1], values[y == 0]
            if t.min() >= c.max() or t.max() <= c.min():
                raise SeparationError(
                    f"propensity_score: perfect separation, covariate {column!r} ranges "
                    f"[{t.min():.6g}, {t.max():.6g}] among treated and [{c.min():.6g}, {c.max():.6g}] "
                    "among controls, which do not overlap; drop it or restrict the sample",
                    str(column),
                )


def _check_rank(X: pd.DataFrame) -> None:
    kept: list[str] = []
    for column in X.columns:
        candidate = X[kept + [column]].to_numpy()
        if np.linalg.matrix_rank(candidate) < len(kept) + 1:
            what = "is constant" if X[column].nunique() == 1 else "is collinear with the columns before it"
            raise DesignError(f"propensity_score: design column {column!r} {what}; drop it")
        kept.append(column)


# --------------------------------------------------------------------------- common support


def trim_common_support(
    score: pd.Series, treated: pd.Series, rule: str = "minmax", threshold: float | None = None
) -> pd.Series:
    """Boolean Series by firm: inside the region of common support?

    ``rule="minmax"``: keep firms whose score lies in
    ``[max(min_T e, min_C e), min(max_T e, max_C e)]``, the overlap of the two groups'
    score ranges (Dehejia & Wahba 1999).
    ``rule="crump"``: keep ``a <= e <= 1 - a`` (Crump, Hotz, Imbens & Mitnik 2009).
    ``threshold`` fixes ``a`` (their rule of thumb is 0.1); by default ``a`` is their
    optimal value: with g = 1 / (e (1 - e)), ``a = 0`` if max g <= 2 mean g, else
    ``a = 1/2 - sqrt(1/4 - 1/gamma)`` where gamma solves gamma = 2 E[g | g <= gamma].
    The crump rule targets the ATE on the trimmed population; minmax suits the ATT.

    Raises :class:`~evaluation.methods.errors.DesignError` when either group is left empty.
    """
    e = _check_score(score)
    y = _aligned_treated(treated, e.index)
    if rule == "minmax":
        low = max(e[y == 1].min(), e[y == 0].min())
        high = min(e[y == 1].max(), e[y == 0].max())
        keep = (e >= low) & (e <= high)
    elif rule == "crump":
        a = crump_threshold(e) if threshold is None else float(threshold)
        if not 0 <= a < 0.5:
            raise DesignError(f"crump threshold must lie in [0, 0.5); got {a}")
        keep = (e >= a) & (e <= 1 - a)
    else:
        raise DesignError(f"unknown trimming rule {rule!r}; choose 'minmax' or 'crump'")
    for side, label in ((1, "treated"), (0, "control")):
        if not keep[y == side].any():
            raise DesignError(
                f"common-support trimming ({rule}) left no {label} firms (0 of {int((y == side).sum())}); "
                "the groups' propensity scores do not overlap"
            )
    return keep.rename("in_support")


def crump_threshold(score: pd.Series) -> float:
    """Crump et al.'s (2009) optimal trimming threshold ``a`` (see :func:`trim_common_support`)."""
    g = np.sort(1.0 / (score.to_numpy(float) * (1.0 - score.to_numpy(float))))
    if g[-1] <= 2.0 * g.mean():
        return 0.0
    # On [g_(k), g_(k+1)) the conditional mean is the mean of the k smallest values; the
    # solution is the first k with 2 * mean_k below the next value.
    twice_mean = 2.0 * np.cumsum(g) / np.arange(1, len(g) + 1)
    k = int(np.flatnonzero(twice_mean[:-1] < g[1:])[0])
    gamma = twice_mean[k]
    return float(0.5 - np.sqrt(0.25 - 1.0 / gamma))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchResult:
    """Nearest-neighbour matches and the implied ATT weights.

    ``pairs``: one row per (treated, control) match with columns ``treated``,
    ``control`` (firm ids), ``distance`` (|logit e_t - logit e_c|) and ``weight``
    (1 / number of matches of that treated firm). ``weights``: by firm, 1 for every
    matched treated firm and, for a control, the sum of its pair weights (a control
    used by several treated firms counts several times); firms not matched are absent.
    ``unmatched``: treated firms with no control within the caliper (dropped: the
    estimand becomes the ATT of the matched treated). ``caliper``: the absolute caliper
    on the logit scale (``inf`` without caliper).
    """

    pairs: pd.DataFrame
    weights: pd.Series
    unmatched: tuple
    caliper: float
    ratio: int
    replace: bool

    @property
    def n_treated(self) -> int:
        return int(self.pairs["treated"].nunique())

    @property
    def n_controls(self) -> int:
        return int(self.pairs["control"].nunique())


def nearest_neighbour_match(
    score: pd.Series,
    treated: pd.Series,
    caliper: float | None = 0.2,
    ratio: int = 1,
    replace: bool = True,
    seed: int | None = None,
) -> MatchResult:
    """Match each treated firm to its ``ratio`` nearest controls on the logit of the score.

    Distance ``|logit e_t - logit e_c|``. ``caliper`` is in standard deviations of the
    logit of the score, pooled over the groups, ``sqrt((s_T^2 + s_C^2) / 2)``; 0.2 is
    Austin's (2011) recommendation; ``None`` disables it. A treated firm with no control
    inside the caliper is dropped (listed in ``unmatched``); one with fewer than
    ``ratio`` keeps those it has.

    ``replace=True``: every treated firm takes its nearest controls, and a control at
    the same distance as the ``ratio``-th is also taken (ties kept, as Stata's
    ``teffects nnmatch``), so the result is unique, depends on neither the row order
    nor the firm labels, and ``seed`` is not used.
    ``replace=False``: greedy matching, treated firms in random order (``seed``; firms
    are sorted by id first, so row order does not matter), each taking the nearest
    controls still available (ties broken by firm id).

    Raises :class:`~evaluation.methods.errors.DesignError` when no treated firm can be matched.
    """
    if ratio < 1:
        raise DesignError(f"ratio must be at least 1; got {ratio}")
    e = _check_score(score).sort_index()
    y = _aligned_treated(treated, e.index)
    lin = pd.Series(logit(e.to_numpy()), index=e.index)
    lt, lc = lin[y == 1], lin[y == 0]
    if caliper is None:
        width = np.inf
    else:
        width = float(caliper) * float(np.sqrt((lt.var() + lc.var()) / 2.0))
    controls, control_ids = lc.to_numpy(), lc.index.to_numpy()
    rows: list[tuple[Any, Any, float]] = []
    unmatched = []
    if replace:
        for tid, value in lt.items():
            distance = np.abs(controls - value)
            kth = np.partition(distance, min(ratio, len(distance)) - 1)[min(ratio, len(distance)) - 1]
            chosen = np.flatnonzero((distance <= kth * (1 + TIE_TOLERANCE) + 1e-300) & (distance <= width))
            if chosen.size == 0:
                unmatched.append(tid)
            rows += [(tid, control_ids[j], float(distance[j])) for j in chosen]
    else:
        order = np.random.default_rng(seed).permutation(len(lt))
        available = np.ones(len(controls), dtype=bool)
        for i in order:
            tid, value = lt.index[i], lt.iloc[i]
            candidates = np.flatnonzero(available)
            distance = np.abs(controls[candidates] - value)
            ranked = candidates[np.lexsort((control_ids[candidates], distance))]
            chosen = [j for j in ranked[:ratio] if abs(controls[j] - value) <= width]
            if not chosen:
                unmatched.append(tid)
            available[chosen] = False
            rows += [(tid, control_ids[j], float(abs(controls[j] - value))) for j in chosen]
    if not rows:
        raise DesignError(
            f"nearest-neighbour matching found no control within the caliper ({width:.4g} on the "
            f"logit scale) for any of the {len(lt)} treated firms"
        )
    pairs = pd.DataFrame(rows, columns=["treated", "control", "distance"])
    pairs["weight"] = 1.0 / pairs.groupby("treated")["control"].transform("size")
    pairs = pairs.sort_values(["treated", "distance", "control"], ignore_index=True)
    weights = pd.concat(
        [pd.Series(1.0, index=pd.Index(pairs["treated"].unique())), pairs.groupby("control")["weight"].sum()]
    ).sort_index().rename("weight")
    weights.index.name = e.index.name
    return MatchResult(pairs, weights, tuple(sorted(unmatched)), width, ratio, replace)


# --------------------------------------------------------------------------- weighting


def ipw_weights(score: pd.Series, treated: pd.Series, estimand: str = "ATT") -> pd.Series:
    """Inverse-probability weights by firm, normalised within each group (Hajek).

    ``"ATT"``: treated 1; controls e / (1 - e), scaled to sum to the number of treated
    firms (the controls are reweighted to the treated covariate distribution).
    ``"ATE"``: treated 1 / e and controls 1 / (1 - e), each group scaled to sum to
    the number of firms (both reweighted to the whole sample's distribution).
    """
    e = _check_score(score)
    y = _aligned_treated(treated, e.index)
    n_t = float((y == 1).sum())
    if estimand == "ATT":
        w = np.where(y == 1, 1.0, e / (1.0 - e))
        w = pd.Series(w, index=e.index)
        w[y == 0] *= n_t / w[y == 0].sum()
    elif estimand == "ATE":
        w = pd.Series(np.where(y == 1, 1.0 / e, 1.0 / (1.0 - e)), index=e.index)
        n = float(len(y))
        w[y == 1] *= n / w[y == 1].sum()
        w[y == 0] *= n / w[y == 0].sum()
    else:
        raise DesignError(f"unknown estimand {estimand!r}; choose 'ATT' or 'ATE'")
    return w.rename("weight")


# --------------------------------------------------------------------------- balance


def balance_table(
    covariates: pd.DataFrame,
    treated: pd.Series,
    weights_before: pd.Series | None = None,
    weights_after: pd.Series | None = None,
) -> pd.DataFrame:
    """Covariate balance of two groups before and (optionally) after matching/weighting.

    One row per covariate; a categorical column gives one row per level
    (``"size_class=micro"``: the share of firms at that level). For each of
    ``before``/``after``: weighted means ``mean_treated_*``, ``mean_control_*``,

    * ``smd_* = (mean_T - mean_C) / sqrt((s_T^2 + s_C^2) / 2)``, the standardised mean
      difference. The denominator is the same before and after: the *unweighted*
      standard deviations of the two groups in ``covariates`` (Stuart 2010; cobalt's
      default), so a change of SMD is a change of means only;
    * ``vr_* = s_T^2 / s_C^2``, the ratio of the weighted variances (with the
      reliability-weight correction ``sum w / ((sum w)^2 - sum w^2)``, i.e. the usual
      n - 1 variance for unit weights); missing for binary rows, whose variance is a
      function of the mean.

    ``weights_before`` defaults to unit weights; ``weights_after`` (e.g.
    :attr:`MatchResult.weights` or :func:`ipw_weights`) gives weight 0 to firms it does
    not list. Without ``weights_after`` only the ``*_before`` columns are returned.
    Commonly read: |SMD| < 0.1 and 0.5 < VR < 2 indicate good balance (Austin 2009).
    """
    X = _expanded(covariates)
    y = _aligned_treated(treated, X.index)
    binary = pd.Series(
        {c: ("=" in str(c)) or bool(X[c].dropna().isin([0.0, 1.0]).all()) for c in X.columns}
    )
    sd_pooled = np.sqrt((X[y == 1].var() + X[y == 0].var()) / 2.0)
    table = pd.DataFrame(index=pd.Index(X.columns, name="covariate"))
    table["type"] = np.where(binary, "binary", "continuous")
    stages = [("before", weights_before)] + ([("after", weights_after)] if weights_after is not None else [])
    for stage, weights in stages:
        w = pd.Series(1.0, index=X.index) if weights is None else weights.reindex(X.index).fillna(0.0).astype(float)
        if (w < 0).any():
            raise DesignError(f"balance_table: negative weights ({stage})")
        moments = {}
        for side, label in ((1, "treated"), (0, "control")):
            ws = w[y == side]
            if ws.sum() <= 0:
                raise DesignError(f"balance_table: the {label} group has no weight ({stage})")
            moments[label] = _weighted_moments(X[y == side], ws)
        table[f"mean_treated_{stage}"] = moments["treated"][0]
        table[f"mean_control_{stage}"] = moments["control"][0]
        table[f"smd_{stage}"] = (moments["treated"][0] - moments["control"][0]) / sd_pooled
        table[f"vr_{stage}"] = (moments["treated"][1] / moments["control"][1]).where(~binary)
    return table


def _weighted_moments(X: pd.DataFrame, w: pd.Series) -> tuple[pd.Series, pd.Series]:
    ww = w.to_numpy()
    mean = pd.Series(ww @ X.to_numpy() / ww.sum(), index=X.columns)
    squares = ww @ (X.to_numpy() - mean.to_numpy()) ** 2
    effective = ww.sum() ** 2 - (ww**2).sum()  # 0 when a single firm carries all the weight
    correction = ww.sum() / effective if effective > 0 else np.nan
    return mean, pd.Series(correction * squares, index=X.columns)


def smd_summary(balance: pd.DataFrame, threshold: float = 0.1) -> str:
    """In words: how many covariates have ``|SMD| < threshold`` before and after weighting."""
    n = len(balance)
    before = int((balance["smd_before"].abs() < threshold).sum())
    text = f"{before} of {n} covariates have an absolute difference below {threshold:g} before matching"
    if "smd_after" in balance.columns:
        text += f" and {int((balance['smd_after'].abs() < threshold).sum())} after"
    return text


def plot_love(balance: pd.DataFrame, threshold: float = 0.1, ax: plt.Axes | None = None) -> plt.Figure:
    """Love plot: |SMD| of each covariate before (open circles) and after (filled),
    sorted by |SMD| before, with a dashed line at ``threshold``."""
    if "smd_before" not in balance.columns:
        raise DesignError("plot_love needs a balance_table")
    order = balance["smd_before"].abs().sort_values().index
    labels = [str(c) for c in order]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(order) + 1.2))
    else:
        fig = ax.figure
    positions = np.arange(len(order))
    ax.scatter(balance.loc[order, "smd_before"].abs(), positions, facecolors="none", edgecolors="0.3",
               label="before")
    if "smd_after" in balance.columns:
        ax.scatter(balance.loc[order, "smd_after"].abs(), positions, color="C0", label="after")
    ax.axvline(threshold, color="0.5", linestyle="--", linewidth=1)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("absolute standardised mean difference")
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- matched DiD


def matched_did(
    frame: pd.DataFrame,
    y: str,
    weights: pd.Series | None = None,
    unit: str = "firm_id",
    time: str = "year",
    treat: str = "treat",
    vcov: str = "CR1",
    alpha: float = 0.05,
) -> EstimationResult:
    """Weighted two-way fixed-effects DiD of ``y`` on the 0/1 ``treat`` (treated x post).

    ``y_it = b treat_it + a_i + d_t + u_it`` by WLS with the unit weight ``w_i`` on
    every period of unit ``i`` (:func:`evaluation.methods.estimators.twfe`, unit and period
    effects, standard errors clustered by unit, CR1 by default; ``vcov="CR2"`` only
    without weights, since ``twfe`` does not offer CR2 with weights). ``weights`` (by
    unit: :attr:`MatchResult.weights` or :func:`ipw_weights`) restricts the sample to
    units with positive weight; ``None`` weights every unit of ``frame`` equally (the
    unadjusted DiD). Rows of ``frame`` must have ``y`` observed.

    The result's ``estimator`` is ``"matched_did"``; ``extra`` adds the numbers of
    treated and control units used and the sum of the control weights.
    """
    frame = frame[list(dict.fromkeys([unit, time, treat, y]))]  # the model's columns only: no copy of the rest
    if weights is not None:
        w = weights[weights > 0]
        frame = frame[frame[unit].isin(w.index)].assign(_weight=frame[unit].map(w))
    else:
        frame = frame.assign(_weight=1.0)
    ever_treated = frame.groupby(unit)[treat].max()
    for side, label in ((1, "treated"), (0, "control")):
        if not (ever_treated == side).any():
            raise DesignError(f"matched_did: no {label} firm with positive weight and {y} data")
    result = twfe(frame, y, [treat], unit, time,
                  weights="_weight" if weights is not None else None, vcov=vcov, alpha=alpha)
    firm_weight = frame.groupby(unit)["_weight"].first()
    extra = {
        **result.extra,
        "weights": "firm weights" if weights is not None else None,
        "n_treated_firms": int((ever_treated == 1).sum()),
        "n_control_firms": int((ever_treated == 0).sum()),
        "control_weight_sum": float(firm_weight[ever_treated == 0].sum()),
    }
    return dataclasses.replace(result, estimator="matched_did", extra=extra)
