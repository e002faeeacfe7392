"""A small study for the runner's tests: one notebook counting firms (reading the data
the runner cached), one that fails (declaring no ``data_cache``), and a one-line report; built in a
temporary folder by :func:`make_study`."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

OK_NOTEBOOK = [
    ('data_dir: str = "."\noutput_dir: str = "."\ndata_cache: str = ""\nfactor: int = 1', ["parameters"]),
    (
        "import sys\n"
        "from evaluation.data.contract import load_study_data\n"
        "from evaluation.pipeline.outputs import ResultsWriter\n"
        "data = load_study_data(data_dir, cache=data_cache)\n"
        "print('validated here:', 'pandera' in sys.modules)\n"
        "out = ResultsWriter(output_dir, notebook='ok', synthetic=data.dataset['synthetic'])\n"
        "out.headline(firms=factor * len(data.firms))\n"
        "out.write()",
        [],
    ),
]
FAILING_NOTEBOOK = [
    ('data_dir: str = "."\noutput_dir: str = "."', ["parameters"]),
    ("x = 1", []),
    ("raise ValueError('boom: the estimate is undefined')", []),
]
REPORT = """---
title: Small study
---

{{< include generated/data_banner.md >}}

Firms counted twice: {{< var count_double.firms >}}.

{{< include generated/provenance.md >}}
"""


def write_notebook(path: Path, cells) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "poli-eval", "display_name": "poli-eval", "language": "python"}
    for source, tags in cells:
        cell = new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)


def make_study(root: Path, data_dir: Path, factor: int = 2, failing: bool | int = False) -> Path:
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "reports").mkdir(exist_ok=True)
    write_notebook(root / "notebooks" / "ok.ipynb", OK_NOTEBOOK)
    write_notebook(root / "notebooks" / "fail.ipynb", FAILING_NOTEBOOK)
    (root / "reports" / "report.qmd").write_text(REPORT)
    (root / "_quarto.yml").write_text("project:\n  type: default\n")
    sets = ", ".join(f"{{name: {name}}}" for name in ("always", "again")[: int(failing)])
    failing_entry = f"  - name: broken\n    path: notebooks/fail.ipynb\n    parameter_sets: [{sets}]\n" if failing else ""
    (root / "study.yml").write_text(
        f"title: Small\n"
        f"data: {{dir: {data_dir}}}\n"
        f"execution: {{kernel: poli-eval, timeout_seconds: 120}}\n"
        f"report: {{source: reports/report.qmd}}\n"
        f"notebooks:\n"
        f"  - name: count\n    path: notebooks/ok.ipynb\n"
        f"    parameter_sets: [{{name: double, parameters: {{factor: {factor}}}}}]\n" + failing_entry
    )
    return root / "study.yml"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
