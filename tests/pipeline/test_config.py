"""study.yml is validated before anything runs."""

from pathlib import Path

import pytest

from evaluation.pipeline.config import ConfigError, check_notebook_parameters, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    path = tmp_path / "study.yml"
    path.write_text(text)
    return path


VALID = """
title: t
data: {dir: data}
execution: {kernel: poli-eval}
report: {source: reports/report.qmd}
notebooks:
  - name: overview
    path: NOTEBOOK
    parameter_sets: [{name: all}]
"""


def test_the_project_study_file_is_valid():
    config = load_config(ROOT / "study.yml")
    check_notebook_parameters(config)
    assert [f"{nb.name}.{ps.name}" for nb, ps in config.runs()] == [
        "overview.all", "first_did.linea_a", "first_did.linea_b",
        "main.unsuccessful", "main.matched", "main.not_yet",
        "heterogeneity.linea_a", "heterogeneity.linea_b",
        "robustness.linea_a", "robustness.linea_b", "observatory.all", "discontinuity.all",
        "dose_response.all",
    ]
    assert config.data.dir == ROOT / "data" / "default"
    assert config.report.evaluator and config.report.status is None  # the status follows the data


def test_title_page_fields_are_optional_and_typed(tmp_path):
    text = VALID.replace("NOTEBOOK", "nb.ipynb").replace(
        "{source: reports/report.qmd}", "{source: reports/report.qmd, version: '2', date: 2025-06-30}")
    report = load_config(write(tmp_path, text)).report
    assert report.version == "2" and report.date.isoformat() == "2025-06-30" and report.commissioning_body is None


def test_relative_paths_resolve_against_the_study_file(tmp_path):
    config = load_config(write(tmp_path, VALID.replace("NOTEBOOK", "nb.ipynb")))
    assert config.notebooks[0].path == tmp_path.resolve() / "nb.ipynb"


@pytest.mark.parametrize(
    "change, message",
    [
        (("title: t", "title: t\ncolour: blue"), "colour"),                       # unknown top-level key
        (("{kernel: poli-eval}", "{kernel: poli-eval, timeout_seconds: soon}"), "timeout_seconds"),
        (("{kernel: poli-eval}", "{kernel: poli-eval, timeout_seconds: -1}"), "timeout_seconds"),
        (("name: overview", "name: Overview!"), "name"),                          # not an identifier
        (("[{name: all}]", "[]"), "parameter_sets"),                              # empty grid
        (("[{name: all}]", "[{name: all}, {name: all}]"), "repeated"),
        (("[{name: all}]", "[{name: all, parameters: {output_dir: x}}]"), "set by the runner"),
        (("title: t", "title: !!python/object/apply:os.system ['echo hi']"), "not valid YAML"),
        (("{source: reports/report.qmd}", "{source: reports/report.qmd, date: soon}"), "report.date"),
        (("{source: reports/report.qmd}", "{source: reports/report.qmd, evaluator: ''}"), "report.evaluator"),
        (("{source: reports/report.qmd}", "{source: reports/report.qmd, author: me}"), "report.author"),
    ],
)
def test_bad_study_files_are_rejected_with_the_key_named(tmp_path, change, message):
    text = VALID.replace("NOTEBOOK", "nb.ipynb").replace(*change)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, text))
    assert "study.yml" in str(err.value)


def test_a_top_level_list_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_parameters_are_checked_against_the_notebook(tmp_path):
    notebook = ROOT / "notebooks" / "02_first_did.ipynb"
    good = VALID.replace("NOTEBOOK", str(notebook)).replace("[{name: all}]", "[{name: a, parameters: {line: A, leads: 3}}]")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "report.qmd").write_text("---\ntitle: t\n---\n")
    check_notebook_parameters(load_config(write(tmp_path, good)))

    unknown = good.replace("leads: 3", "leeds: 3")
    with pytest.raises(ConfigError, match="unknown parameter 'leeds'"):
        check_notebook_parameters(load_config(write(tmp_path, unknown)))

    wrong_type = good.replace("leads: 3", "leads: three")
    with pytest.raises(ConfigError, match="'leads' should be int"):
        check_notebook_parameters(load_config(write(tmp_path, wrong_type)))

    missing = VALID.replace("NOTEBOOK", str(tmp_path / "missing.ipynb"))
    with pytest.raises(ConfigError, match="does not exist"):
        check_notebook_parameters(load_config(write(tmp_path, missing)))
