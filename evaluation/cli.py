"""Command line: ``python -m evaluation study|generate|validate``.

Every user-facing failure (bad study file, data breaking the contract, a failing
notebook, a failed render) prints one clear message to stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError
from .contract import ContractError
from .design import DesignError
from .render import RenderError
from .runner import RunFailed

EXIT_CODES = {ConfigError: 2, ContractError: 3, DesignError: 3, RunFailed: 4, RenderError: 5}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser("study", help="run every notebook of study.yml and render the report")
    study.add_argument("config", nargs="?", default="study.yml", type=Path)
    study.add_argument("--force", action="store_true", help="ignore the cache and execute everything again")
    study.add_argument("--jobs", type=int, help="notebooks to run at once on a Dask LocalCluster (overrides study.yml)")
    study.add_argument("--scheduler", help="address of an existing Dask scheduler (overrides study.yml)")
    generate = commands.add_parser("generate", help="write the synthetic default data")
    generate.add_argument("out_dir", type=Path)
    generate.add_argument("--seed", type=int, default=20170601)
    validate = commands.add_parser("validate", help="check a data folder against the data contract")
    validate.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)

    try:
        if args.command == "study":
            from .runner import run_study

            run_study(args.config, force=args.force, jobs=args.jobs, scheduler=args.scheduler)
        elif args.command == "generate":
            from .synthetic import generate as generate_data

            generate_data(args.out_dir, seed=args.seed)
            print(f"Synthetic data written to {args.out_dir}")
        else:
            from .contract import load_study_data

            data = load_study_data(args.data_dir)
            print(f"{args.data_dir}: valid; sha256 {data.data_hash}")
    except tuple(EXIT_CODES) as err:
        print(f"error: {err}", file=sys.stderr)
        return next(code for kind, code in EXIT_CODES.items() if isinstance(err, kind))
    return 0
