"""The CI workflow (.github/workflows/): valid against GitHub's workflow schema, clean under
zizmor's security audit, both offline; and it does what README.md, "Continuous
integration", says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
STUDY_WORKFLOW = ROOT / ".github" / "workflows" / "study.yml"


def _tool(name: str) -> str:
    """The executable installed beside this Python (the `test` extra), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: install the test extra (pip install -e '.[test]')")
    return found


def _check_jsonschema(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True, text=True,
    )


def _zizmor(path: Path) -> subprocess.CompletedProcess:
    """zizmor offline; its output without colour codes (it colours under CI=true)."""
    done = subprocess.run([_tool("zizmor"), "--offline", str(path)], capture_output=True, text=True)
    plain = re.compile(r"\x1b\[[0-9;]*m")
    return subprocess.CompletedProcess(done.args, done.returncode, plain.sub("", done.stdout), plain.sub("", done.stderr))


def _load(path: Path = STUDY_WORKFLOW) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def _steps(job: str) -> list[dict]:
    return _load()["jobs"][job]["steps"]


def _uses(job: str, action: str) -> list[dict]:
    return [s for s in _steps(job) if s.get("uses", "").split("@")[0] == action]


# ------------------------------------------------------------------------ validators


def test_there_is_a_workflow():
    assert STUDY_WORKFLOW in WORKFLOWS


def test_workflows_match_githubs_workflow_schema():
    done = _check_jsonschema(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing():
    done = _zizmor(STUDY_WORKFLOW.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def test_the_validators_reject_a_broken_workflow(tmp_path):
    """Guards the two tests above: a bad workflow must fail them."""
    text = STUDY_WORKFLOW.read_text(encoding="utf-8")
    invalid = tmp_path / "invalid.yml"
    invalid.write_text(text.replace("timeout-minutes: 60", "timeout-minutes: sixty"), encoding="utf-8")
    assert _check_jsonschema(invalid).returncode != 0

    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4", text), encoding="utf-8")
    assert _check_jsonschema(unpinned).returncode == 0
    done = _zizmor(unpinned)
    assert done.returncode != 0 and "error[unpinned-uses]" in done.stdout and "2 high" in done.stdout


def test_actions_are_pinned_by_commit_with_the_version_in_a_comment():
    for path in WORKFLOWS:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        uses = [line for line in lines if re.match(r"^(- )?uses:", line)]
        assert uses
        for line in uses:
            assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


# ------------------------------------------------------------------------ what it does


def test_it_runs_on_changes_to_the_study_and_by_hand():
    on = _load()["on"]
    inputs = {"data/**", "study.yml", "notebooks/**", "evaluation/**", "reports/**", "_quarto.yml"}
    assert inputs <= set(on["push"]["paths"])
    assert on["pull_request"]["paths"] == on["push"]["paths"]
    assert "workflow_dispatch" in on


def test_least_privilege():
    workflow = _load()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["render"]["permissions"] == jobs["test"]["permissions"] == {"contents": "read"}
    assert jobs["pages"]["permissions"] == {"pages": "write", "id-token": "write"}
    for job in ("render", "test"):
        (checkout,) = _uses(job, "actions/checkout")
        assert checkout["with"]["persist-credentials"] is False


def test_render_uses_python_311_a_pinned_quarto_and_the_readme_study_command():
    workflow = _load()
    assert workflow["env"]["PYTHON_VERSION"] == "3.11"
    assert re.fullmatch(r"1\.7\.\d+", workflow["env"]["QUARTO_VERSION"])
    (quarto,) = _uses("render", "quarto-dev/quarto-actions/setup")
    assert quarto["with"]["version"] == "${{ env.QUARTO_VERSION }}"
    for job in ("render", "test"):
        (python,) = _uses(job, "actions/setup-python")
        assert python["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    runs = [s["run"] for s in _steps("render") if "run" in s]
    assert any(run.startswith("make study") for run in runs)


def test_the_test_job_runs_the_ci_entry_point_which_runs_make_test():
    assert [s["run"] for s in _steps("test") if "run" in s][-1] == "bash .ci/run"
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_caches_venv_on_the_lock_and_the_build_on_the_data_manifest():
    study = yaml.safe_load((ROOT / "study.yml").read_text(encoding="utf-8"))
    for job in ("render", "test"):
        venv = next(s for s in _uses(job, "actions/cache") if s["with"]["path"] == ".venv")
        assert "hashFiles('requirements.lock', 'pyproject.toml')" in venv["with"]["key"]
    (build,) = [s for s in _uses("render", "actions/cache") if "build" in s["with"]["path"].split()]
    # the folders the runner keeps its cache keys in
    assert build["with"]["path"].split() == [study["execution"]["build_dir"], study["report"]["output_dir"]]
    key = build["with"]["key"]
    for pattern in ("data/manifest.json", "study.yml", "notebooks/**", "evaluation/**", "reports/**",
                    "!reports/_output/**", "_quarto.yml", "requirements.lock"):
        assert f"'{pattern}'" in key, pattern
    assert "steps.data.outputs.data_sha256" in key and "env.QUARTO_VERSION" in key
    assert build["if"] == "steps.data.outputs.synthetic == 'true'"  # real data never reach the cache


def test_the_default_data_are_the_ones_the_manifest_records():
    study = yaml.safe_load((ROOT / "study.yml").read_text(encoding="utf-8"))
    assert study["data"]["dir"] == "data/default" and study["data"]["generate_synthetic"] is True
    (choose,) = [s for s in _steps("render") if s.get("id") == "data"]
    assert "data/manifest.json" in choose["run"] and "${{ secrets.STUDY_DATA_DIR }}" in choose["env"].values()
    summary = next(s for s in _steps("render") if "evaluation manifest" in s.get("run", ""))
    assert "--check" in summary["run"] and "--write" in summary["run"] and "GITHUB_STEP_SUMMARY" in summary["run"]


def test_it_uploads_the_report_and_publishes_only_synthetic_reports_from_main():
    (upload,) = _uses("render", "actions/upload-artifact")
    study = yaml.safe_load((ROOT / "study.yml").read_text(encoding="utf-8"))
    out = study["report"]["output_dir"]
    assert upload["with"]["path"].split() == [f"{out}/report.html", f"{out}/report.pdf", f"{out}/results.json"]
    assert upload["with"]["if-no-files-found"] == "error"
    pages = _load()["jobs"]["pages"]
    assert "github.ref == 'refs/heads/main'" in pages["if"]
    assert "needs.render.outputs.synthetic == 'true'" in pages["if"]
    assert _uses("pages", "actions/deploy-pages")
