"""What a notebook hands to the report: one ``results.json`` plus tables and figures.

``results.json`` layout (read by ``evaluation.pipeline.report``)::

    {"notebook": ..., "synthetic": bool,
     "headline": {nested numbers quoted in the report text},
     "tables":   {key: {"file": "<key>.csv", "caption": ...}},
     "figures":  {key: {"file": "<key>.png", "caption": ..., "alt": ...}},
     "numbers":  {anything else worth keeping, JSON-serialisable},
     "not_estimable": {key: reason}}

A design the data cannot support is not an error: inside ``with out.attempt(key,
...)`` a :class:`~evaluation.study.design.DesignError` is caught and every listed output not
yet written is recorded under ``not_estimable`` with the error's message as the
reason; the report prints "not estimable with these data" and the reason in its place.

Files are written so that the same inputs give byte-identical outputs: JSON with
sorted keys, CSV with fixed float formatting, PNG without a software or date stamp.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import matplotlib.figure
import pandas as pd

from evaluation.methods.errors import DesignError
from evaluation.methods.results import to_plain


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
            "not_estimable": {},
        }

    def headline(self, **numbers: Any) -> None:
        """Numbers the report quotes in its text; round them to reporting precision first."""
        self.results["headline"].update(_plain(numbers))

    def numbers(self, **numbers: Any) -> None:
        self.results["numbers"].update(_plain(numbers))

    def _claim(self, key: str) -> None:
        """Tables, figures and not-estimable notes share one namespace: the report includes ``<key>.md``."""
        if any(key in self.results[kind] for kind in ("tables", "figures", "not_estimable")):
            raise ValueError(f"output key {key!r} is already used by a table or figure of this notebook")

    def written(self, key: str) -> bool:
        return any(key in self.results[kind] for kind in ("tables", "figures", "not_estimable"))

    def not_estimable(self, key: str, reason: str) -> None:
        """Record that output ``key`` cannot be made from these data, and why."""
        self._claim(key)
        self.results["not_estimable"][key] = str(reason)

    @contextlib.contextmanager
    def attempt(self, *keys: str):
        """Run a block that writes ``keys``; on ``DesignError`` record each key not yet
        written as not estimable with the error's message, and go on."""
        try:
            yield
        except DesignError as err:
            print(f"not estimable ({', '.join(keys)}): {err}")
            for key in keys:
                if not self.written(key):
                    self.not_estimable(key, str(err))

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
