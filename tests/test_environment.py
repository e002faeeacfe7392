"""environment.yml (conda) and pyproject.toml must name the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_ONLY = {"python", "pip", "quarto"}  # the interpreter, the installer, and Quarto itself


def _names(requirements):
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pyproject |= _names(extra)

    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = [d for d in conda if isinstance(d, str)]
    listed += [p for d in conda if isinstance(d, dict) for p in d.get("pip", [])]
    environment = _names(listed) - CONDA_ONLY

    assert environment == pyproject, (
        f"only in environment.yml: {sorted(environment - pyproject)}; "
        f"only in pyproject.toml: {sorted(pyproject - environment)}"
    )


def test_environment_yml_brings_quarto():
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert "quarto" in conda
