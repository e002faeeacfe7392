"""The organisations of the synthetic data (``firms.csv``): pole members and
non-member enterprises with their type, size class, pole, sector, province and
unobserved firm effect, and the employment level of every enterprise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from evaluation.data import programme
from evaluation.data.contract import NO_POLE
from evaluation.data.synthetic.parameters import (
    EMPLOYEE_BOUNDS,
    MEMBER_SINCE_P,
    NONMEMBER_LARGE_SHARE,
    NONMEMBER_SECTORS,
    POLE_SECTORS,
    POLE_WEIGHTS,
    PROVINCE_P,
    SIZES,
    SME_SIZE_P,
)


def member_type_counts() -> dict[str, int]:
    """Pole members by ``firm_type`` in the synthetic data (sums to ``MEMBERS_TOTAL``)."""
    counts = dict(programme.MEMBERS_JUNE_2017)
    counts["other"] += programme.MEMBERS_NOT_BROKEN_DOWN  # the 100 the source leaves unclassified
    assert sum(counts.values()) == programme.MEMBERS_TOTAL
    return counts


def choice(rng: np.random.Generator, probs: dict, n: int) -> np.ndarray:
    """``n`` keys of ``probs`` drawn with the (normalised) probabilities it maps them to."""
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


def make_firms(rng, n_nonmembers: int) -> pd.DataFrame:
    """Pole members (counts by type as published) and ``n_nonmembers`` non-member
    enterprises, in a random order of ``firm_id``, with the firm effect ``alpha``."""
    counts = member_type_counts()
    ftype = np.concatenate([np.full(n, t, dtype=object) for t, n in counts.items()])
    n_mem = len(ftype)
    pole = choice(rng, POLE_WEIGHTS, n_mem)
    since = choice(rng, MEMBER_SINCE_P, n_mem).astype(np.int64)

    size = np.full(n_mem, "", dtype=object)
    is_sme = ftype == "SME"
    size[is_sme] = np.array(SIZES[:3], dtype=object)[
        rng.choice(3, size=is_sme.sum(), p=SME_SIZE_P["member"])
    ]
    size[ftype == "large"] = "large"
    is_other = ftype == "other"
    size[is_other] = np.where(
        rng.random(is_other.sum()) < 0.5,
        np.where(rng.random(is_other.sum()) < 0.5, "micro", "small"),
        "",
    )
    ateco = np.empty(n_mem, dtype=object)
    ent = np.isin(ftype, ("SME", "large"))
    for p in programme.POLES:
        m = ent & (pole == p)
        ateco[m] = choice(rng, POLE_SECTORS[p], int(m.sum()))
    ro = ftype == "research_org"
    ateco[ro] = choice(rng, {"72": 0.7, "85": 0.3}, int(ro.sum()))
    ateco[is_other] = choice(rng, {"94": 0.5, "70": 0.3, "82": 0.2}, int(is_other.sum()))

    members = pd.DataFrame(
        {
            "firm_type": ftype, "size_class": size, "pole": pole, "member_since": since,
            "ateco": ateco, "province": choice(rng, PROVINCE_P, n_mem), "member": True,
        }
    )
    n = n_nonmembers
    nm_type = np.where(rng.random(n) < NONMEMBER_LARGE_SHARE, "large", "SME").astype(object)
    nm_size = np.array(SIZES[:3], dtype=object)[rng.choice(3, size=n, p=SME_SIZE_P["nonmember"])]
    nm_size[nm_type == "large"] = "large"
    nonmembers = pd.DataFrame(
        {
            "firm_type": nm_type, "size_class": nm_size, "pole": NO_POLE,
            "member_since": np.full(n, -1, dtype=np.int64),
            "ateco": choice(rng, NONMEMBER_SECTORS, n),
            "province": choice(rng, PROVINCE_P, n), "member": False,
        }
    )
    firms = pd.concat([members, nonmembers], ignore_index=True)
    n_all = len(firms)
    ids = rng.permutation(n_all) + 1
    firms.insert(0, "firm_id", [f"F{i:05d}" for i in ids])
    firms["alpha"] = rng.standard_normal(n_all)
    return firms


def add_employment_level(rng, firms: pd.DataFrame) -> None:
    """Add each organisation's log employment level ``ell`` (AWU) and its level ``emp0``
    to ``firms``; drawn before the calls, since project cost shares use it."""
    n = len(firms)
    size = firms["size_class"].to_numpy()
    u = ndtr(0.4 * firms["alpha"].to_numpy() + 0.92 * rng.standard_normal(n))
    ell = np.zeros(n)
    for s, (lo, hi) in EMPLOYEE_BOUNDS.items():
        m = size == s
        ell[m] = np.log(lo) + u[m] * (np.log(hi) - np.log(lo))
    m = size == "large"
    ell[m] = np.log(np.minimum(250 * np.exp(rng.exponential(1.0, m.sum())), 20_000))
    firms["ell"] = ell
    firms["emp0"] = np.exp(ell)
