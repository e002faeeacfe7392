"""The arguments every function of the package checks: the event study (``betahat``,
``sigma``, ``num_pre``, ``num_post``), the target weights ``l_vec`` and the name of the
restriction, with the confidence-set methods each restriction allows."""

from __future__ import annotations

import numpy as np

RESTRICTIONS = {"SD": "DeltaSD", "RM": "DeltaRM"}
METHODS = {"SD": ("FLCI", "Conditional", "C-LF"), "RM": ("C-LF", "Conditional")}
DEFAULT_METHOD = {"SD": "FLCI", "RM": "C-LF"}


def as_inputs(betahat, sigma, num_pre: int, num_post: int, l_vec):
    betahat = np.asarray(betahat, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    num_pre, num_post = int(num_pre), int(num_post)
    if num_pre < 1 or num_post < 1:
        raise ValueError(f"num_pre and num_post must be >= 1 (got {num_pre}, {num_post})")
    n = num_pre + num_post
    if betahat.size != n:
        raise ValueError(f"betahat has {betahat.size} entries; num_pre + num_post = {n}")
    if sigma.shape != (n, n):
        raise ValueError(f"sigma has shape {sigma.shape}; expected ({n}, {n})")
    if not (np.all(np.isfinite(betahat)) and np.all(np.isfinite(sigma))):
        raise ValueError("betahat and sigma must be finite")
    if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-14 * np.abs(sigma).max()):
        raise ValueError("sigma is not symmetric")
    sigma = (sigma + sigma.T) / 2
    if np.linalg.eigvalsh(sigma).min() < -1e-10 * np.abs(sigma).max():
        raise ValueError("sigma is not positive semi-definite")
    l_vec = as_lvec(l_vec, num_post)
    return betahat, sigma, num_pre, num_post, l_vec


def as_lvec(l_vec, num_post: int) -> np.ndarray:
    if l_vec is None:
        out = np.zeros(num_post)
        out[0] = 1.0
        return out
    if isinstance(l_vec, str):
        if l_vec == "average":
            return np.full(num_post, 1.0 / num_post)
        raise ValueError(f"l_vec must be a vector, None or 'average' (got {l_vec!r})")
    out = np.asarray(l_vec, dtype=float).ravel()
    if out.size != num_post:
        raise ValueError(f"l_vec has {out.size} entries; num_post = {num_post}")
    if not np.any(out != 0):
        raise ValueError("l_vec must not be all zeros")
    return out


def check_restriction(restriction: str) -> str:
    key = str(restriction).upper().replace("DELTA", "")
    if key not in RESTRICTIONS:
        raise ValueError(f"restriction must be 'SD' or 'RM' (got {restriction!r})")
    return key
