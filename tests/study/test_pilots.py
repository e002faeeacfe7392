"""The pilots' evaluation plan (evaluation.study.pilots): panel moments estimated on a
simulated and on the study panel, the covariance they imply, and the plan."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from evaluation.data.contract import load_study_data
from evaluation.methods import power as P
from evaluation.methods.errors import DesignError
from evaluation.study import pilots
from evaluation.study.comparison import comparison_sample


def test_panel_moments_recover_simulated_parameters():
    rng = np.random.default_rng(7)
    n, T, sigma2, rho = 3000, 6, 1.5, 0.6
    y = rng.normal(0, math.sqrt(rho * sigma2), (n, 1)) + rng.normal(0, math.sqrt((1 - rho) * sigma2), (n, T))
    y += np.arange(T) * 0.1  # year effects are removed
    frame = pd.DataFrame({"firm_id": np.repeat(np.arange(n), T).astype(str), "year": np.tile(2010 + np.arange(T), n),
                          "turnover_eur": np.exp(y.ravel()), "treat": 0,
                          "pole": np.repeat(rng.integers(0, 7, n), T)})
    frame["log_turnover_eur"] = np.log(frame["turnover_eur"])
    mom = pilots.panel_moments(frame, "turnover_eur", cluster="pole")
    assert mom.sigma2 == pytest.approx(sigma2, rel=0.05)
    assert mom.rho == pytest.approx(rho, abs=0.03)
    assert mom.icc_cluster < 0.01  # no pole shocks in this panel
    assert mom.covariance(4).shape == (4, 4)


def test_covariance_is_positive_semidefinite_near_a_unit_root_and_beyond_the_panel():
    """Lag-by-lag autocorrelations of a persistent panel (here 0.95, 0.99, 0.90 at lags
    1-3, all below 1) need not form a covariance matrix; the nearest PSD matrix does, the
    MDE is a finite positive number, and 6 years can be sized from 4. Autocorrelations
    reaching 1 (a random walk) give no stationary covariance, and a projection that leaves the
    pre years predicting the post year exactly gives an MDE of zero: the plan is not estimable."""
    autocov = pd.Series([1.0, 0.95, 0.99, 0.90], index=pd.Index(range(4), name="lag"))
    assert np.linalg.eigvalsh(autocov.to_numpy()[np.abs(np.subtract.outer(range(4), range(4)))]).min() < 0
    mom = P.PanelMoments("turnover_eur", sigma2=1.0, rho=0.95, autocov=autocov, n_firms=50, n_years=4)
    cov = mom.covariance(6)
    assert cov.shape == (6, 6) and np.linalg.eigvalsh(cov).min() > -1e-12
    for estimator in ("ancova", "did", "post"):
        value = P.mde(90, 360, pre_periods=3, post_periods=3, estimator=estimator, cov=cov)
        assert math.isfinite(value) and value > 0
    # 3 pre-call years and 1 post (a pilot cut to the 4-year panel) use the whole 4x4 matrix, made
    # singular by the projection: the pre years predict the post year exactly, whatever the rounding
    assert P.covariance_factor(mom.covariance(4), 3, 1, "ancova") == 0.0
    with pytest.raises(DesignError, match="exactly"):
        pilots.pilot_plan(mom)
    decaying = P.PanelMoments("turnover_eur", sigma2=1.0, rho=0.9, autocov=pd.Series([1.0, 0.9, 0.8, 0.7]), n_firms=50, n_years=4)
    plan = pilots.pilot_plan(decaying)
    assert (plan["mde_percent"] > 0).all()
    assert list(plan["pre_periods"] + plan["post_periods"]) == [4, 4]  # horizons cut to the 4-year panel
    walk = P.PanelMoments("turnover_eur", sigma2=1.0, rho=1.01, autocov=pd.Series([1.0, 0.99, 1.03]), n_firms=50, n_years=3)
    with pytest.raises(DesignError, match="random walk"):
        pilots.pilot_plan(walk)


def test_study_panel_and_pilot_plan(default_data):
    data = load_study_data(default_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = comparison_sample(data, "A", "matched")
    mom = pilots.panel_moments(sample, "turnover_eur", cluster="pole")
    # log turnover of firms is very persistent: autocorrelation falls with the lag
    assert 0.8 < mom.rho < 1.0
    assert mom.autocorr[1] > mom.autocorr[5]
    plan = pilots.pilot_plan(mom, participants_per_call=30, target_percent=10)
    assert list(plan["pilot"]) == list(pilots.PILOTS)
    assert (plan["needed_per_call"] > 30).all() and (plan["mde_percent"] > 10).all()
