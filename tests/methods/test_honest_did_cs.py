"""HonestDiD inputs from a Callaway-Sant'Anna event study."""

import warnings

import numpy as np
import pytest

from evaluation.methods.estimators import aggte, att_gt
from evaluation.methods.honest_did import cs_event_study_inputs


@pytest.fixture(scope="module")
def mpdta():
    from pathlib import Path

    import pandas as pd

    return pd.read_csv(Path(__file__).parent / "reference" / "mpdta.csv")


def test_inputs_reproduce_aggte_standard_errors(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = aggte(att_gt(mpdta, y="lemp", time="year", unit="countyreal", cohort="first.treat",
                           base_period="universal"), kind="dynamic")
    inputs = cs_event_study_inputs(agg)
    shown = agg.table[agg.table["key"] != -1]
    np.testing.assert_allclose(inputs["betahat"], shown["att"].to_numpy())
    np.testing.assert_allclose(np.sqrt(np.diag(inputs["sigma"])), shown["se"].to_numpy(), rtol=1e-10)
    # mpdta: periods 2003-2007, cohorts 2004-2007 -> event times -4..3, reference -1
    assert (inputs["num_pre"], inputs["num_post"]) == (3, 4)


def test_a_varying_base_period_is_refused(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = aggte(att_gt(mpdta, y="lemp", time="year", unit="countyreal", cohort="first.treat"), kind="dynamic")
    with pytest.raises(ValueError, match="universal"):
        cs_event_study_inputs(agg)
