"""The generator reproduces the default data byte for byte: data/manifest.json holds
their sha256 (recorded when the generator last changed on purpose). And the command
that checks a data folder against a manifest and writes a new one
(``python -m evaluation manifest``, used by CI to say which data changed)."""

import json
import os
from pathlib import Path

import pytest

from evaluation.data.contract import load_study_data
from evaluation.pipeline import manifest as mf
from evaluation.pipeline.cli import EXIT_DATA_CHANGED, main

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "data" / "manifest.json"


def test_default_data_match_the_manifest(default_data):
    manifest = json.loads(MANIFEST.read_text())
    data = load_study_data(default_data)
    assert data.dataset["seed"] == manifest["seed"]
    assert data.sha256 == manifest["files"], (
        "the generator's output changed: if on purpose, record the new hashes with "
        "`python -m evaluation manifest data/default --write data/manifest.json`"
    )
    assert data.data_hash == manifest["data_sha256"]


# ---------------------------------------------------------------- python -m evaluation manifest


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_manifest_of_the_default_data_is_the_committed_one_byte_for_byte(default_data, tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(MANIFEST.read_bytes())  # a rewrite keeps the description
    assert main(["manifest", str(default_data), "--write", str(target)]) == 0
    assert target.read_bytes() == MANIFEST.read_bytes()
    assert mf.make_manifest(default_data)["data_sha256"] == load_study_data(default_data).data_hash


def test_check_says_unchanged_and_exits_0(default_data, capsys):
    assert main(["manifest", str(default_data), "--check", str(MANIFEST)]) == 0
    out = capsys.readouterr().out
    assert "unchanged (5 files" in out and json.loads(MANIFEST.read_text())["data_sha256"] in out


def test_check_names_changed_added_and_removed_files_and_exits_6(data_copy, tmp_path, capsys):
    old = tmp_path / "old.json"
    assert main(["manifest", str(data_copy), "--write", str(old)]) == 0
    capsys.readouterr()
    with open(data_copy / "panel.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    (data_copy / "truth.csv").unlink()
    before = json.loads(old.read_text())
    del before["files"]["firms.csv"]  # as if firms.csv were new
    old.write_text(json.dumps(before))

    assert EXIT_DATA_CHANGED == 6
    assert main(["manifest", str(data_copy), "--check", str(old)]) == EXIT_DATA_CHANGED
    lines = capsys.readouterr().out.splitlines()
    assert "the data changed (1 changed, 1 added, 1 removed)" in lines[0]
    assert lines[1:4] == ["  changed  panel.csv", "  added    firms.csv", "  removed  truth.csv"]
    assert lines[4].startswith(f"data sha256 {before['data_sha256']} -> ")


def test_check_and_write_the_same_manifest_records_the_new_data(data_copy, tmp_path):
    path = tmp_path / "last.json"
    assert main(["manifest", str(data_copy), "--write", str(path)]) == 0
    (data_copy / "truth.csv").unlink()
    assert main(["manifest", str(data_copy), "--check", str(path), "--write", str(path)]) == EXIT_DATA_CHANGED
    assert "truth.csv" not in json.loads(path.read_text())["files"]
    assert main(["manifest", str(data_copy), "--check", str(path)]) == 0


def test_without_options_it_prints_the_manifest_and_writes_nothing(default_data, capsys):
    before = _files(default_data)
    assert main(["manifest", str(default_data)]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == json.loads(MANIFEST.read_text())["files"]
    assert _files(default_data) == before


def test_write_touches_nothing_but_the_given_path(default_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "other.txt").write_text("keep")
    data_before = _files(default_data)
    assert main(["manifest", str(default_data), "--write", str(out / "m.json")]) == 0
    assert _files(out) == ["m.json", "other.txt"] and (out / "other.txt").read_text() == "keep"
    assert _files(default_data) == data_before
    assert json.loads((out / "m.json").read_text())["description"] == mf.DEFAULT_DESCRIPTION
    assert (out / "m.json").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_failed_write_leaves_the_old_manifest_and_no_temporary_file(default_data, tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    target.write_bytes(MANIFEST.read_bytes())

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(mf.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        mf.write_manifest(mf.make_manifest(default_data, "new"), target)
    assert target.read_bytes() == MANIFEST.read_bytes()
    assert _files(tmp_path) == ["m.json"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--check", "{tmp}/missing.json"], "manifest not found"),
        (["--check", "{root}/study.yml"], "not a readable JSON manifest"),
        (["--check", "{tmp}/bad.json"], "not a data manifest"),
        (["--write", "{root}/study.yml"], "refusing to overwrite it"),
        (["--write", "{tmp}/no/such/folder/m.json"], "does not exist"),
    ],
)
def test_bad_manifest_paths_exit_2_and_overwrite_nothing(default_data, tmp_path, capsys, args, message):
    (tmp_path / "bad.json").write_text(json.dumps({"files": {"firms.csv": "not a digest"}}))
    study = (ROOT / "study.yml").read_bytes()
    args = [a.format(tmp=tmp_path, root=ROOT) for a in args]
    assert main(["manifest", str(default_data), *args]) == 2
    assert message in capsys.readouterr().err
    assert (ROOT / "study.yml").read_bytes() == study
    assert not (tmp_path / "no").exists()


def test_a_missing_data_folder_is_bad_data_exit_3(tmp_path, capsys):
    assert main(["manifest", str(tmp_path / "nowhere"), "--check", str(MANIFEST)]) == 3
    assert "data directory is missing" in capsys.readouterr().err
