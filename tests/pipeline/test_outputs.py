"""What notebooks write for the report."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.pipeline.outputs import ResultsWriter


def test_results_json_is_plain_sorted_and_repeatable(tmp_path):
    for folder in ("a", "b"):
        out = ResultsWriter(tmp_path / folder, notebook="nb", synthetic=True)
        out.headline(z=np.float64(0.5), a=np.int64(3), missing=float("nan"))
        out.table("t", pd.DataFrame({"x": [1.0, 2.5]}), caption="c")
        out.write()
    first, second = ((tmp_path / f / "results.json").read_bytes() for f in ("a", "b"))
    assert first == second
    results = json.loads(first)
    assert results["headline"] == {"a": 3, "missing": None, "z": 0.5}


def test_a_table_and_a_figure_may_not_share_a_key(tmp_path):
    out = ResultsWriter(tmp_path, notebook="nb", synthetic=False)
    out.table("same", pd.DataFrame({"x": [1]}), caption="c")
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="already used"):
        out.figure("same", fig, caption="c", alt="a")


def test_attempt_records_a_design_the_data_cannot_support(tmp_path):
    from evaluation.methods.errors import DesignError

    out = ResultsWriter(tmp_path, notebook="nb", synthetic=False)
    with out.attempt("made", "missing"):
        out.table("made", pd.DataFrame({"x": [1]}), caption="c")
        raise DesignError("the panel has one year only.")
    assert out.results["not_estimable"] == {"missing": "the panel has one year only."}
    assert "made" in out.results["tables"]
    with pytest.raises(KeyError):  # anything else is a bug and stops the notebook
        with out.attempt("other"):
            raise KeyError("bug")
