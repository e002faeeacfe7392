"""The 2x2 estimators of DRDID for panels, with their influence functions.

The estimators of ``DRDID`` (Sant'Anna & Zhao 2020) that R ``did`` calls for panels:

``method="dr"``   ``DRDID::drdid_panel``: logit propensity score by maximum
                  likelihood, outcome regression of the change in ``y`` by OLS on the
                  comparison units, locally efficient doubly robust ATT; propensity
                  scores of comparison units >= 0.995 are trimmed (weight 0).
``method="ipw"``  ``DRDID::std_ipw_did_panel``: normalised (Hajek) IPW, same logit
                  and trimming.
``method="reg"``  ``DRDID::reg_did_panel``: outcome regression.

Each 2x2 returns its influence function (estimation of the propensity score and of
the regression included).
"""

from __future__ import annotations

import math

import numpy as np

TRIM_LEVEL = 0.995  # DRDID's trim.level: comparison units with pscore >= this get weight 0
OVERLAP_LIMIT = 0.999  # did: a 2x2 whose largest pscore reaches this is not estimated (NA)


def _logit(X: np.ndarray, D: np.ndarray, w: np.ndarray, tol: float = 1e-12, max_iter: int = 100):
    """Weighted logit MLE by Newton-Raphson: fitted probabilities and (X'WX)^-1 at the MLE."""
    if X.shape[1] == 1:  # intercept only: closed form
        p = float(np.sum(w * D) / np.sum(w))
        ps = np.full(len(D), p)
        return ps, np.array([[1.0 / np.sum(w * p * (1 - p))]])
    beta = np.zeros(X.shape[1])
    p0 = np.sum(w * D) / np.sum(w)
    beta[0] = math.log(p0 / (1 - p0))
    for _ in range(max_iter):
        eta = X @ beta
        ps = 1.0 / (1.0 + np.exp(-eta))
        W = w * ps * (1 - ps)
        hess = (X * W[:, None]).T @ X
        step = np.linalg.solve(hess, X.T @ (w * (D - ps)))
        beta = beta + step
        if np.max(np.abs(step)) <= tol * (1 + np.max(np.abs(beta))):
            break
    eta = X @ beta
    ps = 1.0 / (1.0 + np.exp(-eta))
    W = w * ps * (1 - ps)
    return ps, np.linalg.inv((X * W[:, None]).T @ X)


def _ols_controls(X, D, w):
    """Weighted OLS among comparison units (D == 0): (X'W0X)^-1 and (X'W0X / n)^-1."""
    wc = w * (1 - D)
    gram = X.T @ (X * wc[:, None])
    return np.linalg.inv(gram), np.linalg.inv(gram / len(D))


def _did_2x2(method: str, dy, D, X, w, pscore=None, ols=None):
    """ATT and its influence function (length n1) for one 2x2, as DRDID's panel estimators.

    ``w`` are the unit weights normalised to mean 1 in the 2x2 sample; ``X`` includes the
    intercept. ``pscore`` may carry a cached ``(ps, (X'WX)^-1)`` of the logit and ``ols``
    a cached :func:`_ols_controls`. Every correction term of the form
    ``(X * a) @ A @ m`` is computed as ``a * (X @ (A @ m))`` (matrix-vector products only).
    ``dy`` may be an (n1, c) matrix: the c 2x2s of one sample (same units, propensity
    score and regression design) at once, giving c ATTs and an (n1, c) influence matrix.
    """
    single = dy.ndim == 1
    dy = dy.reshape(len(dy), -1)
    n = len(dy)
    D, w = D[:, None], w[:, None]  # unit vectors as columns, broadcast over the 2x2s

    def result(att, inf):
        return (float(att[0]), inf[:, 0]) if single else (att, inf)

    if method in ("dr", "reg"):
        gram_inv, xpx_inv = ols if ols is not None else _ols_controls(X, D[:, 0], w[:, 0])
        wc = w * (1 - D)
        coef = gram_inv @ ((X * wc).T @ dy)  # outcome regression among comparison units, k x c
    if method == "reg":
        out_delta = X @ coef
        resid = dy - out_delta
        wc_resid = wc * resid
        w_treat = w * D
        mean_wt = w_treat.mean()
        att_treat = w_treat * dy
        att_cont = w_treat * out_delta
        eta_treat = att_treat.mean(0) / mean_wt
        eta_cont = att_cont.mean(0) / mean_wt
        m1 = X.T @ w_treat / n
        inf_treat = (att_treat - w_treat * eta_treat) / mean_wt
        inf_cont = (att_cont - w_treat * eta_cont + wc_resid * (X @ (xpx_inv @ m1))) / mean_wt
        return result(eta_treat - eta_cont, inf_treat - inf_cont)
    ps, hess_inv = pscore if pscore is not None else _logit(X, D[:, 0], w[:, 0])
    ps = np.minimum(ps, 1 - 1e-6)[:, None]
    trim = np.where(D == 1, ps < 1.01, ps < TRIM_LEVEL)
    w_treat = trim * w * D
    w_cont = trim * w * ps * (1 - D) / (1 - ps)
    score_ps = w * (D - ps)
    mean_wt, mean_wc = w_treat.mean(), w_cont.mean()
    if method == "ipw":
        att_treat, att_cont = w_treat * dy, w_cont * dy
        eta_treat = att_treat.mean(0) / mean_wt
        eta_cont = att_cont.mean(0) / mean_wc
        inf_treat = (att_treat - w_treat * eta_treat) / mean_wt
        m2 = X.T @ (w_cont * (dy - eta_cont)) / n
        inf_cont = (att_cont - w_cont * eta_cont + score_ps * (X @ (hess_inv @ m2 * n))) / mean_wc
        return result(eta_treat - eta_cont, inf_treat - inf_cont)
    # Doubly robust (drdid_panel). With resid = dy - X coef, DRDID's terms
    #   inf_treat = (w_treat resid - w_treat eta_treat - wc resid a1) / mean_wt,  a1 = X xpx_inv m1
    #   inf_cont  = (w_cont resid - w_cont eta_cont + score_ps X hess_inv m2 n - wc resid a3) / mean_wc
    # sum to inf = v dy - Z C, v = w_treat/mean_wt - w_cont/mean_wc - wc (a1/mean_wt - a3/mean_wc)
    # (n x 1), Z = [v X, w_treat, w_cont, score_ps X] (n x (2k+2)), C their k x c coefficients:
    # one elementwise pass and one matrix product over the n x c block instead of a dozen
    # n x c temporaries (the means and moments below are matrix-vector products).
    wt_x, wcont_x = w_treat[:, 0] @ X, w_cont[:, 0] @ X  # sum_i w_i X_i
    eta_treat = (w_treat[:, 0] @ dy - wt_x @ coef) / n / mean_wt
    eta_cont = (w_cont[:, 0] @ dy - wcont_x @ coef) / n / mean_wc
    m1, m3 = wt_x[:, None] / n, wcont_x[:, None] / n
    m2 = ((X * w_cont).T @ dy - ((X * w_cont).T @ X) @ coef - wcont_x[:, None] * eta_cont) / n
    v = w_treat / mean_wt - w_cont / mean_wc - wc * (X @ (xpx_inv @ (m1 / mean_wt - m3 / mean_wc)))
    Z = np.hstack([v * X, w_treat, w_cont, score_ps * X])
    C = np.vstack([coef, eta_treat / mean_wt, -eta_cont / mean_wc, hess_inv @ m2 * (n / mean_wc)])
    inf = v * dy
    inf -= Z @ C
    return result(eta_treat - eta_cont, inf)


def _sample_problem(method, X, D, ws, entry) -> str | None:
    """Fit what does not depend on the outcome (cached per sample); say why a 2x2 cannot be estimated."""
    if D.sum() == 0 or D.sum() == len(D):
        return "no comparison units"
    if method in ("dr", "ipw"):
        entry["pscore"] = _logit(X, D, ws)
        if entry["pscore"][0].max() >= OVERLAP_LIMIT:
            return f"overlap violated (propensity score >= {OVERLAP_LIMIT})"
    if method in ("dr", "reg"):
        controls = X[D == 0]
        if np.linalg.cond(controls.T @ controls) > 1 / np.finfo(float).eps:
            return "not enough comparison units to run the outcome regression"
        entry["ols"] = _ols_controls(X, D, ws)
    return None
