"""Command line: ``python -m evaluation study|generate|validate|manifest``.

Every user-facing failure (bad study file, data breaking the contract, a failing
notebook, a failed render) prints one clear message to stderr and exits non-zero:
2 bad usage or configuration (study.yml, a folder the study may not write, a file
system that refuses, a manifest that cannot be read or written),
3 bad data, 4 a failing notebook, 5 a failed render. ``manifest --check`` exits 6
when the data differ from the manifest (not an error: the data changed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.data.contract import ContractError
from evaluation.methods.errors import DesignError
from evaluation.pipeline.config import ConfigError
from evaluation.pipeline.manifest import ManifestError
from evaluation.pipeline.render import RenderError
from evaluation.pipeline.runs import RunFailed

EXIT_CODES = {ConfigError: 2, ManifestError: 2, ContractError: 3, DesignError: 3, RunFailed: 4, RenderError: 5}
EXIT_DATA_CHANGED = 6
"""``manifest --check``: the data folder differs from the manifest."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser("study", help="run every notebook of study.yml and render the report")
    study.add_argument("config", nargs="?", default="study.yml", type=Path)
    study.add_argument("--force", action="store_true", help="ignore the cache and execute everything again")
    study.add_argument("--jobs", type=_count(1, 256), help="notebooks to run at once on a Dask LocalCluster, 1-256 (overrides study.yml)")
    study.add_argument("--scheduler", help="address of an existing Dask scheduler (overrides study.yml)")
    study.add_argument("--allow-outside", action="store_true",
                       help="let study.yml's build and report folders lie outside the study file's folder")
    generate = commands.add_parser("generate", help="write the synthetic default data")
    generate.add_argument("out_dir", type=Path)
    generate.add_argument("--seed", type=_count(0, 2**32 - 1), default=20170601)
    validate = commands.add_parser("validate", help="check a data folder against the data contract")
    validate.add_argument("data_dir", type=Path)
    manifest = commands.add_parser(
        "manifest",
        help="hash a data folder; compare it with a manifest (exit 6 if the data changed) and/or write a new one",
    )
    manifest.add_argument("data_dir", type=Path)
    manifest.add_argument("--check", type=Path, metavar="MANIFEST", help="say which files were added, removed or changed")
    manifest.add_argument("--write", type=Path, metavar="MANIFEST", help="write the folder's manifest here (atomically)")
    args = parser.parse_args(argv)

    try:
        if args.command == "study":
            from evaluation.pipeline.runner import run_study

            run_study(args.config, force=args.force, jobs=args.jobs, scheduler=args.scheduler,
                      allow_outside=args.allow_outside)
        elif args.command == "generate":
            from evaluation.data.synthetic import generate as generate_data

            generate_data(args.out_dir, seed=args.seed)
            print(f"Synthetic data written to {args.out_dir}")
        elif args.command == "manifest":
            return _manifest(args.data_dir, args.check, args.write)
        else:
            from evaluation.data.contract import load_study_data

            data = load_study_data(args.data_dir)
            print(f"{args.data_dir}: valid; sha256 {data.data_hash}")
    except tuple(EXIT_CODES) as err:
        print(f"error: {err}", file=sys.stderr)
        return next(code for kind, code in EXIT_CODES.items() if isinstance(err, kind))
    except OSError as err:  # the file system refused (permissions, a full disk): the user's to fix
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    return 0


def _count(low: int, high: int):
    """An argparse type: an integer in [low, high], else a usage error (exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value
    return parse


def _manifest(data_dir: Path, check: Path | None, write: Path | None) -> int:
    """``manifest``: compare with ``check`` (exit 6 if the data changed), write to ``write``;
    with neither, print the manifest."""
    from evaluation.pipeline import manifest as mf

    old = mf.read_manifest(check) if check else None
    replaced = mf.replaced_manifest(write) if write else None
    description = (replaced or {}).get("description")  # a rewritten manifest keeps its description
    new = mf.make_manifest(data_dir, description if isinstance(description, str) else mf.DEFAULT_DESCRIPTION)
    changes = mf.compare(old, new) if old is not None else None
    if write:
        mf.write_manifest(new, write)
    if changes:
        counts = ", ".join(f"{len(getattr(changes, kind))} {kind}" for kind in ("changed", "added", "removed"))
        print(f"{data_dir} against {check}: the data changed ({counts})")
        print("\n".join(changes.lines()))
        print(f"data sha256 {old.get('data_sha256', 'not recorded')} -> {new['data_sha256']}")
    elif changes is not None:
        print(f"{data_dir} against {check}: unchanged ({len(new['files'])} files, data sha256 {new['data_sha256']})")
    if write:
        print(f"Manifest of {data_dir} written to {write}")
    elif changes is None:
        print(json.dumps(new, indent=2))
    return EXIT_DATA_CHANGED if changes else 0
