"""Where each notebook run's time and memory go: the runs of a study file, cell by cell, in one process.

Executes the code cells of every (notebook, parameter set) of ``study.yml`` (or of the
runs named with ``--runs``) in this process, with the parameters papermill would inject
(``data_dir`` from ``--data``, ``output_dir`` a temporary folder, the set's parameters),
and prints for each cell the wall time and the peak resident memory (Linux ``VmHWM``,
reset before each cell by writing 5 to ``/proc/self/clear_refs``), as a markdown table.
The runs share the process (imports are paid once); each run's variables are dropped
before the next.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/notebook_profile.py --data /tmp/scale100k --runs main_matched
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _status(field: str) -> int:
    """A memory field of /proc/self/status in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def grid(study: Path) -> list[tuple[str, Path, dict]]:
    """(run id, notebook path, parameters) of every run of the study file."""
    config = yaml.safe_load(study.read_text())
    return [(f"{nb['name']}_{ps['name']}", study.parent / nb["path"], ps.get("parameters") or {})
            for nb in config["notebooks"] for ps in nb["parameter_sets"]]


def profile_run(path: Path, parameters: dict, out=sys.stdout) -> tuple[float, int]:
    """Execute the notebook's code cells; print one row per cell; total seconds and peak bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    namespace: dict = {"display": lambda *a, **k: None, "__name__": "__main__"}
    total, peak = 0.0, 0
    with tempfile.TemporaryDirectory() as work:
        injected = "\n".join(f"{k} = {v!r}" for k, v in {**parameters, "output_dir": work}.items())
        for number, cell in enumerate(cells, start=1):
            source = cell.source + ("\n" + injected if "parameters" in cell.metadata.get("tags", []) else "")
            gc.collect()
            before = _status("VmRSS")
            _reset_peak()
            start = time.perf_counter()
            exec(compile(source, f"{path.name}:cell{number}", "exec"), namespace)
            seconds = time.perf_counter() - start
            high = _status("VmHWM")
            total, peak = total + seconds, max(peak, high)
            first = source.strip().splitlines()[0][:70] if source.strip() else ""
            print(f"| {number} | `{first}` | {seconds:.1f} | {before / 1e9:.2f} | {high / 1e9:.2f} |", file=out, flush=True)
    namespace.clear()
    plt.close("all")
    gc.collect()
    return total, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="data folder (the four files of the contract)")
    ap.add_argument("--study", type=Path, default=ROOT / "study.yml")
    ap.add_argument("--runs", nargs="*", help="run ids (notebook_parameterset); all by default")
    args = ap.parse_args()
    runs = [r for r in grid(args.study) if not args.runs or r[0] in args.runs]
    summary = []
    for run, path, parameters in runs:
        print(f"\n{run} ({path.name})\n\n| cell | first line | seconds | RSS before (GB) | peak RSS (GB) |\n|---:|---|---:|---:|---:|",
              flush=True)
        seconds, peak = profile_run(path, {**parameters, "data_dir": str(args.data.resolve())})
        summary.append((run, seconds, peak))
    print("\n| run | seconds | peak RSS (GB) |\n|---|---:|---:|")
    for run, seconds, peak in summary:
        print(f"| {run} | {seconds:.1f} | {peak / 1e9:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
