"""What a notebook hands to the report: one ``results.json`` plus tables and figures.

``results.json`` layout (read by ``evaluation.report``)::

    {"notebook": ..., "synthetic": bool,
     "headline": {nested numbers quoted in the report text},
     "tables":   {key: {"file": "<key>.csv", "caption": ...}},
     "figures":  {key: {"file": "<key>.png", "caption": ..., "alt": ...}},
     "numbers":  {anything else worth keeping, JSON-serialisable}}

Files are written so that the same inputs give byte-identical outputs: JSON with
sorted keys, CSV with fixed float formatting, PNG without a software or date stamp.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.figure
import pandas as pd

from .results import to_plain


def _plain(value: Any) -> Any:
    """JSON-safe plain Python values; NaN and inf become ``None`` (null) in results.json."""
    return to_plain(value, nonfinite=lambda _: None)


class ResultsWriter:
    """Collects a notebook's outputs and writes them into ``output_dir``."""

    def __init__(self, output_dir: str | Path, notebook: str, synthetic: bool):
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {
            "notebook": notebook,
            "synthetic": bool(synthetic),
            "headline": {},
            "tables": {},
            "figures": {},
            "numbers": {},
        }

    def headline(self, **numbers: Any) -> None:
        """Numbers the report quotes in its text; round them to reporting precision first."""
        self.results["headline"].update(_plain(numbers))

    def numbers(self, **numbers: Any) -> None:
        self.results["numbers"].update(_plain(numbers))

    def _claim(self, key: str) -> None:
        """Tables and figures share one namespace: the report includes ``<key>.md``."""
        if key in self.results["tables"] or key in self.results["figures"]:
            raise ValueError(f"output key {key!r} is already used by a table or figure of this notebook")

    def table(self, key: str, frame: pd.DataFrame, caption: str) -> None:
        self._claim(key)
        path = self.dir / f"{key}.csv"
        frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
        self.results["tables"][key] = {"file": path.name, "caption": caption}

    def figure(self, key: str, fig: matplotlib.figure.Figure, caption: str, alt: str) -> None:
        self._claim(key)
        path = self.dir / f"{key}.png"
        fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Software": None})
        self.results["figures"][key] = {"file": path.name, "caption": caption, "alt": alt}

    def write(self) -> Path:
        path = self.dir / "results.json"
        path.write_text(json.dumps(_plain(self.results), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path
