"""Shared fixtures: the synthetic default data (generated once) and a study factory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from evaluation.data.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def default_data(tmp_path_factory) -> Path:
    """The default synthetic data set (seed of study.yml), generated once per session."""
    seed = yaml.safe_load((ROOT / "study.yml").read_text())["data"]["seed"]
    out = tmp_path_factory.mktemp("data") / "default"
    generate(out, seed=seed)
    return out


@pytest.fixture
def data_copy(default_data, tmp_path) -> Path:
    """A private copy of the default data that a test may corrupt."""
    target = tmp_path / "data"
    shutil.copytree(default_data, target)
    return target
