"""The 2x2 estimators of DRDID for repeated cross sections (unbalanced panels).

For an unbalanced panel R ``did`` stacks the observations of each 2x2 and applies
DRDID's repeated-cross-section estimators:

``method="dr"``   ``DRDID::drdid_rc``, the locally efficient DR estimator (Sant'Anna &
                  Zhao 2020, eq. 3.4): weighted OLS of y on X for comparison and for
                  treated observations in each period, logit of D on X over the N
                  observations, trimming as for panels.
``method="ipw"``  ``DRDID::std_ipw_did_rc`` (Hajek IPW, same logit and trimming).
``method="reg"``  ``DRDID::reg_did_rc`` (OLS of y on X for comparison observations in
                  each period).

Each observation enters with the covariates of its own period and its unit's weight
(normalised to mean 1 over the N observations, as DRDID).
"""

from __future__ import annotations

import numpy as np

from evaluation.methods.estimators.staggered.panel_2x2 import OVERLAP_LIMIT, TRIM_LEVEL, _logit


class _CellProblem(Exception):
    """A 2x2 that R did reports as NA (with a warning)."""


def _wls_subsample(X, y, ws):
    """Weighted OLS of y on X over the rows with ws > 0: fitted values and (X'WX / N)^-1.

    N counts all rows of the 2x2, as DRDID scales the asymptotic linear representation
    ``ws e x' (X'WX/N)^-1`` of the coefficients.
    """
    gram = (X * ws[:, None]).T @ X
    if np.linalg.cond(gram) > 1 / np.finfo(float).eps:
        raise _CellProblem("not enough observations to run the outcome regression")
    gram_inv = np.linalg.inv(gram)
    fitted = X @ (gram_inv @ (X.T @ (ws * y)))
    return fitted, gram_inv * len(y)


def _hajek(wts, z):
    """Normalised weighted mean of z and the leading term of its influence function."""
    mean_w = wts.mean()
    est = float((wts * z).mean() / mean_w)
    return est, wts * (z - est) / mean_w


def _did_rc(method: str, y, post, D, X, w, pscore=None):
    """ATT and per-observation influence function (length N) of one 2x2 from stacked rows.

    Repeated-cross-section estimators of DRDID (Sant'Anna & Zhao 2020), as R ``did``
    calls them for unbalanced panels: ``"dr"`` the locally efficient doubly robust
    ``drdid_rc`` (their eq. 3.4: outcome regressions for comparison and treated units in
    each period, logit propensity score, comparison units with pscore >= 0.995 get
    weight 0); ``"ipw"`` the normalised IPW ``std_ipw_did_rc`` (same logit and trimming,
    as DRDID's current version and moderndid); ``"reg"`` the outcome
    regression ``reg_did_rc``. Rows are observations (unit, period); ``post`` marks the
    current period, ``w`` the observation weights (normalised to mean 1 here, as DRDID).
    The influence function includes the estimation effects of the logit and of every
    regression. Each correction ``a x' A^-1 m`` is evaluated as ``a * (X @ (A^-1 m))``.
    """
    N = len(y)
    w = w / w.mean()
    pre = 1.0 - post
    c0, c1, t0, t1 = (1 - D) * pre, (1 - D) * post, D * pre, D * post
    if method == "reg":
        fit_c0, inv_c0 = _wls_subsample(X, y, w * c0)
        fit_c1, inv_c1 = _wls_subsample(X, y, w * c1)
        eta_t1, inf_t1 = _hajek(w * t1, y)
        eta_t0, inf_t0 = _hajek(w * t0, y)
        w_d = w * D
        eta_c, inf_c = _hajek(w_d, fit_c1 - fit_c0)
        m = X.T @ w_d / N / w_d.mean()
        inf_c = (inf_c + w * c1 * (y - fit_c1) * (X @ (inv_c1 @ m))
                 - w * c0 * (y - fit_c0) * (X @ (inv_c0 @ m)))
        return (eta_t1 - eta_t0) - eta_c, (inf_t1 - inf_t0) - inf_c
    ps, hess_inv = pscore if pscore is not None else _logit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    odds = ps / (1 - ps)
    ps_effect = w * (D - ps)  # times x' (X'WX)^-1 N: the logit's asymptotic linear representation
    trim = np.where(D == 1, ps < 1.01, ps < TRIM_LEVEL)
    if method == "ipw":
        att_t1, inf_t1 = _hajek(w * t1, y)
        att_t0, inf_t0 = _hajek(w * t0, y)
        w_c1, w_c0 = trim * w * odds * c1, trim * w * odds * c0
        att_c1, inf_c1 = _hajek(w_c1, y)
        att_c0, inf_c0 = _hajek(w_c0, y)
        m2 = (X.T @ (w_c1 * (y - att_c1)) / w_c1.mean() - X.T @ (w_c0 * (y - att_c0)) / w_c0.mean()) / N
        inf_cont = inf_c1 - inf_c0 + ps_effect * (X @ (hess_inv @ m2)) * N
        return (att_t1 - att_t0) - (att_c1 - att_c0), (inf_t1 - inf_t0) - inf_cont
    # doubly robust, locally efficient (drdid_rc)
    fit_c0, inv_c0 = _wls_subsample(X, y, w * c0)
    fit_c1, inv_c1 = _wls_subsample(X, y, w * c1)
    fit_t0, inv_t0 = _wls_subsample(X, y, w * t0)
    fit_t1, inv_t1 = _wls_subsample(X, y, w * t1)
    resid = y - (post * fit_c1 + pre * fit_c0)
    w_t1, w_t0 = trim * w * t1, trim * w * t0
    w_c1, w_c0 = trim * w * odds * c1, trim * w * odds * c0
    w_d = trim * w * D
    att_t1, inf_t1 = _hajek(w_t1, resid)
    att_t0, inf_t0 = _hajek(w_t0, resid)
    att_c1, inf_c1 = _hajek(w_c1, resid)
    att_c0, inf_c0 = _hajek(w_c0, resid)
    gap1, gap0 = fit_t1 - fit_c1, fit_t0 - fit_c0  # treated minus comparison regression
    att_d1, inf_d1 = _hajek(w_d, gap1)
    att_dt1, inf_dt1 = _hajek(w_t1, gap1)
    att_d0, inf_d0 = _hajek(w_d, gap0)
    att_dt0, inf_dt0 = _hajek(w_t0, gap0)
    att = (att_t1 - att_t0) - (att_c1 - att_c0) + (att_d1 - att_dt1) - (att_d0 - att_dt0)
    # derivatives of the components with respect to the nuisance parameters (k-vectors)
    xw = lambda a: X.T @ a / N  # noqa: E731  (column means of a * X)
    m_treat1, m_treat0 = -xw(w_t1) / w_t1.mean(), -xw(w_t0) / w_t0.mean()
    m_cont1, m_cont0 = -xw(w_c1) / w_c1.mean(), -xw(w_c0) / w_c0.mean()
    m_ps = xw(w_c1 * (resid - att_c1)) / w_c1.mean() - xw(w_c0 * (resid - att_c0)) / w_c0.mean()
    mom1 = xw(w_d) / w_d.mean() - xw(w_t1) / w_t1.mean()
    mom0 = xw(w_d) / w_d.mean() - xw(w_t0) / w_t0.mean()
    # each regression's estimation effect enters with one combined derivative vector
    ols = lambda s, fit, inv, m: w * s * (y - fit) * (X @ (inv @ m))  # noqa: E731
    inf = ((inf_t1 - inf_t0) - (inf_c1 - inf_c0) + (inf_d1 - inf_dt1) - (inf_d0 - inf_dt0)
           - ps_effect * (X @ (hess_inv @ m_ps)) * N
           + ols(c1, fit_c1, inv_c1, m_treat1 - m_cont1 - mom1)
           + ols(c0, fit_c0, inv_c0, m_treat0 - m_cont0 + mom0)
           + ols(t1, fit_t1, inv_t1, mom1)
           - ols(t0, fit_t0, inv_t0, mom0))
    return att, inf


def _rc_problem(method, X, D, post, w):
    """R did's checks before an unbalanced 2x2 (NA when they fail); the logit, fitted once."""
    for label, ok in (("no units of the group in the current period", (D * post).any()),
                      ("no units of the group in the base period", (D * (1 - post)).any()),
                      ("no comparison units in the current period", ((1 - D) * post).any()),
                      ("no comparison units in the base period", ((1 - D) * (1 - post)).any())):
        if not ok:
            return label, None
    pscore = None
    if method in ("dr", "ipw"):
        pscore = _logit(X, D, w)
        if pscore[0].max() >= OVERLAP_LIMIT:
            return f"overlap violated (propensity score >= {OVERLAP_LIMIT})", None
    if method in ("dr", "reg"):
        controls = X[D == 0]
        if np.linalg.cond(controls.T @ controls) > 1 / np.finfo(float).eps:
            return "not enough comparison units to run the outcome regression", None
    return None, pscore
