"""The generator reproduces the default data byte for byte: data/manifest.json holds
their sha256 (recorded when the generator last changed on purpose)."""

import json
from pathlib import Path

from evaluation.contract import load_study_data

ROOT = Path(__file__).resolve().parents[1]


def test_default_data_match_the_manifest(default_data):
    manifest = json.loads((ROOT / "data" / "manifest.json").read_text())
    data = load_study_data(default_data)
    assert data.dataset["seed"] == manifest["seed"]
    assert data.sha256 == manifest["files"], (
        "the generator's output changed: if on purpose, record the new hashes in data/manifest.json"
    )
    assert data.data_hash == manifest["data_sha256"]
