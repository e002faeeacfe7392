"""The study's cache of validated data (evaluation/data/cache.py): the frames read back are
the validated ones, dtypes included; a changed file, a changed contract, a damaged or half
written entry never serves stale frames; the cache path does not import pandera."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from foreign_data import SCENARIOS, write

from evaluation.data import cache as cache_mod
from evaluation.data.cache import contract_fingerprint, entry_dir, read_cache
from evaluation.data.contract import StudyData, cache_study_data, combined_hash, data_file_digests, load_study_data

ROOT = Path(__file__).resolve().parents[2]
MESSY = next(s for s in SCENARIOS if s.name == "unbalanced_messy")  # gaps, missing cells, an empty outcome


def cached(root: Path, data_dir: Path) -> StudyData | None:
    """What the cache under ``root`` holds for the files now in ``data_dir``, or None."""
    digests = data_file_digests(data_dir)
    hit = read_cache(root, combined_hash(digests))
    if hit is None:
        return None
    return StudyData(**hit[0], dataset=hit[1], sha256=digests, data_hash=combined_hash(digests), data_dir=data_dir)


def assert_same(cached, validated) -> None:
    for table in cache_mod.TABLES:
        pd.testing.assert_frame_equal(getattr(cached, table), getattr(validated, table), check_exact=True)
        assert list(getattr(cached, table).dtypes) == list(getattr(validated, table).dtypes)
        assert isinstance(getattr(cached, table).index, pd.RangeIndex)
    assert cached.dataset == validated.dataset
    assert cached.sha256 == validated.sha256 and cached.data_hash == validated.data_hash


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> Path:
    return write(MESSY, tmp_path_factory.mktemp("foreign") / "data")


@pytest.mark.parametrize("which", ["default", "foreign"])
def test_cached_frames_are_the_validated_ones(which, default_data, foreign, tmp_path):
    data_dir = default_data if which == "default" else foreign
    validated = load_study_data(data_dir)
    entry = cache_study_data(validated, tmp_path / "cache")
    assert entry is not None and entry.parent == tmp_path / "cache"
    assert all(not np.load(f, allow_pickle=False).dtype.hasobject for f in entry.glob("*.npy"))
    hit = cached(tmp_path / "cache", data_dir)
    assert hit is not None
    assert_same(hit, validated)
    assert_same(load_study_data(data_dir, cache=tmp_path / "cache"), validated)
    # missing values of each kind: text and nullable integer (default data), float and an empty column (foreign)
    assert validated.firms["member_since"].isna().any()
    if which == "default":
        assert validated.firms["size_class"].isna().any()
    else:
        assert validated.panel["rd_expenditure_eur"].isna().all() and validated.panel["employees"].isna().any()


def test_a_changed_file_is_validated_again(data_copy, tmp_path):
    cache_study_data(load_study_data(data_copy), tmp_path / "cache")
    panel = data_copy / "panel.csv"
    lines = panel.read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    column = header.index("employees")
    first[column] = "12345.0"
    panel.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    assert cached(tmp_path / "cache", data_copy) is None
    data = load_study_data(data_copy, cache=tmp_path / "cache")
    assert data.panel.loc[0, "employees"] == 12345.0
    assert_same(data, load_study_data(data_copy))


def test_a_changed_contract_is_validated_again(default_data, tmp_path, monkeypatch):
    cache_study_data(load_study_data(default_data), tmp_path / "cache")
    code = tmp_path / "code"
    shutil.copytree(Path(cache_mod.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "synthetic"))
    with open(code / "contract.py", "a") as fh:
        fh.write("\n# a changed contract\n")
    before = contract_fingerprint()
    monkeypatch.setattr(cache_mod, "_DATA_DIR", code)
    assert contract_fingerprint() != before
    assert cached(tmp_path / "cache", default_data) is None


def test_an_interrupted_write_leaves_no_entry(default_data, tmp_path, monkeypatch):
    data = load_study_data(default_data)
    calls = []

    def failing_save(path, array, allow_pickle):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt
        np.lib.format.write_array(open(path, "wb"), array, allow_pickle=allow_pickle)

    monkeypatch.setattr(cache_mod.np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        cache_study_data(data, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    assert cached(tmp_path / "cache", default_data) is None


def test_a_damaged_entry_is_validated_again(default_data, tmp_path):
    validated = load_study_data(default_data)
    entry = cache_study_data(validated, tmp_path / "cache")
    meta = json.loads((entry / cache_mod.META).read_text())
    panel_file = entry / "panel.0.codes.npy"
    panel_file.write_bytes(panel_file.read_bytes()[:-8])  # truncated: one row short
    assert cached(tmp_path / "cache", default_data) is None
    assert_same(load_study_data(default_data, cache=tmp_path / "cache"), validated)
    assert meta["data_hash"] == validated.data_hash


def test_a_new_entry_replaces_the_old_ones(default_data, data_copy, tmp_path):
    first = cache_study_data(load_study_data(default_data), tmp_path / "cache")
    (tmp_path / "cache" / ".tmp-left-by-a-kill").mkdir()
    (data_copy / "dataset.json").write_text(
        json.dumps({**json.loads((data_copy / "dataset.json").read_text()), "name": "changed"}))
    changed = load_study_data(data_copy)
    second = cache_study_data(changed, tmp_path / "cache")
    assert second == entry_dir(tmp_path / "cache", changed.data_hash, contract_fingerprint()) != first
    assert list((tmp_path / "cache").iterdir()) == [second]
    assert cached(tmp_path / "cache", data_copy).dataset["name"] == "changed"


def test_reading_the_cache_does_not_import_pandera(default_data, tmp_path):
    cache_study_data(load_study_data(default_data), tmp_path / "cache")
    code = (
        "import sys\n"
        "from evaluation.data.contract import load_study_data\n"
        f"data = load_study_data({str(default_data)!r}, cache={str(tmp_path / 'cache')!r})\n"
        "print(len(data.panel), 'pandera' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == [str(len(load_study_data(default_data).panel)), "False"]
