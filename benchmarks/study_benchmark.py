"""The whole study at the scale of a real comparison pool: wall time and peak memory.

For each number of non-applicant firms, generates synthetic data (``python -m
evaluation.data.synthetic --n-nonmembers N``, 12 years 2011-2022 by default) into a
work folder, writes a copy of the project's ``study.yml`` pointing at it (build and
report folders inside the work folder; notebooks and report source of this project),
runs ``python -m evaluation study`` on it with ``--force`` and samples the process
tree every ``--interval`` seconds: the largest single process (RSS) and the whole
tree (sum of RSS). Generation is not timed. A run above ``--max-gb`` is stopped.

    .venv/bin/python benchmarks/study_benchmark.py --nonmembers 3000 100000 300000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent


def study_file(work: Path, data_dir: Path) -> Path:
    """A copy of the project's study.yml reading ``data_dir``, writing inside ``work``."""
    study = yaml.safe_load((ROOT / "study.yml").read_text())
    study["data"] = {"dir": str(data_dir), "generate_synthetic": False}
    study["execution"]["build_dir"] = "build"
    study["report"]["source"] = str(ROOT / study["report"]["source"])
    study["report"]["output_dir"] = "report"
    for notebook in study["notebooks"]:
        notebook["path"] = str(ROOT / notebook["path"])
    path = work / "study.yml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def run_measured(command: list[str], log: Path, interval: float, max_bytes: float) -> tuple[float, int, int, int]:
    """Wall seconds, exit code, peak RSS of one process and of the whole tree (bytes);
    the command's output goes to ``log``."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, also in the notebooks' kernels
    with log.open("wb") as out:
        proc = psutil.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    largest = tree = 0
    while proc.poll() is None:
        sizes = []
        for p in [proc, *proc.children(recursive=True)]:
            try:
                sizes.append(p.memory_info().rss)
            except psutil.Error:
                pass
        largest, tree = max(largest, max(sizes, default=0)), max(tree, sum(sizes))
        if tree > max_bytes:
            for p in [*proc.children(recursive=True), proc]:
                p.kill()
            break
        time.sleep(interval)
    code = proc.wait()
    return time.perf_counter() - start, code, largest, tree


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nonmembers", type=int, nargs="+", default=[3000, 100000, 300000])
    ap.add_argument("--seed", type=int, default=20170601)
    ap.add_argument("--first-year", type=int, default=2011)
    ap.add_argument("--work", type=Path, default=Path("/tmp/poli-study-benchmark"))
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--max-gb", type=float, default=8.0)
    args = ap.parse_args()
    print("| non-applicant firms | panel rows | whole study (s) | largest process (GB) | process tree (GB) | exit |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.nonmembers:
        work = args.work / str(n)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "data"
        if not (data / "panel.csv").exists():
            subprocess.run([sys.executable, "-m", "evaluation.data.synthetic", str(data), "--seed", str(args.seed),
                            "--n-nonmembers", str(n), "--first-year", str(args.first_year)],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        rows = sum(1 for _ in (data / "panel.csv").open()) - 1
        command = [sys.executable, "-m", "evaluation", "study", str(study_file(work, data)), "--force"]
        seconds, code, largest, tree = run_measured(command, work / "study.log", args.interval, args.max_gb * 1e9)
        print(f"| {n:,} | {rows:,} | {seconds:.0f} | {largest / 1e9:.2f} | {tree / 1e9:.2f} | {code} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
