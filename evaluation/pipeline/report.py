"""Report assembly and rendering.

Assembly reads only the runs' outputs (``results.json``, CSV tables, PNG figures) and
writes, into a staging copy of the Quarto project:

* ``_variables.yml``: every headline number, for Quarto's ``{{< var run.key >}}``;
* ``reports/generated/<run>/<table>.md`` and ``<figure>.md``: tables and figures as
  Markdown snippets for ``{{< include ... >}}``, labelled ``tbl-<run>-<key>`` and
  ``fig-<run>-<key>`` for Quarto's cross-references (``@tbl-...`` in the text);
* ``reports/generated/provenance.md``: git SHA, data sha256, package versions,
  parameters, seeds and the rendering engine;
* ``reports/generated/title_page.md``: the title-page block (commissioning body,
  evaluator, version, date, status) from ``study.yml``'s ``report`` section, whose
  evaluator and date also go into the staged report's front matter;
* ``reports/generated/text/<name>.md``: the sentences of ``narrative`` and the answers
  of ``findings`` (verdicts, limitations, conclusions, recommendations, Italian summary).

Rendering uses ``quarto render`` when ``quarto`` is on PATH, otherwise the offline
path (``evaluation.pipeline.render``: pandoc -> HTML, pandoc -> typst -> PDF). The
finished folder (``report.html``, ``report.pdf``, ``results.json``) replaces
``reports/_output/`` in one move, so a failure leaves the last good report in place.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import re
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from evaluation.pipeline import findings, narrative, render
from evaluation.pipeline.folders import KEY_FILE, replace_dir
from evaluation.study import formats, labels

if TYPE_CHECKING:
    from evaluation.data.contract import StudyData
    from evaluation.pipeline.config import StudyConfig
    from evaluation.pipeline.runs import Run

REPORT_NAME = "report"
PACKAGES = (
    "numpy", "scipy", "pandas", "statsmodels", "linearmodels", "pandera", "pydantic",
    "papermill", "ipykernel", "matplotlib", "seaborn", "pypandoc-binary", "typst",
)


def collect_results(config: StudyConfig, data: StudyData, runs: list[Run]) -> dict:
    """The study's ``results.json``: every run's results and the headline numbers."""
    run_results = {run.id: run.results for run in runs}
    return {
        "study": config.title,
        "synthetic": bool(data.dataset.get("synthetic")),
        "data": {"name": data.dataset.get("name"), "sha256": data.data_hash, "files": data.sha256},
        "headline": {rid: res.get("headline", {}) for rid, res in run_results.items()},
        "runs": run_results,
    }


def headline_kind(key: str) -> str:
    """The number kind (``evaluation.study.formats``) of a headline key, by its name:
    ``pct``, ``pp``, ``*_pct``, ``*_pp`` and ``target_percent`` percent, p-values (``*_p``, ``difference_p.*``,
    ``wild_p_*``, ``firm_p_*``) p, ``*_year`` year, ``*m_eur`` millions of EUR, other
    ``*_eur`` and ``cost_ci_*`` EUR, the log-point gap an estimate, others as stored."""
    parts = key.split(".")
    last = parts[-1]
    if last in ("pct", "pp", "target_percent") or last.endswith(("_pct", "_pp")):
        return "percent"
    if last.endswith("_p") or "difference_p" in parts or last.startswith(("wild_p_", "firm_p_")):
        return "p"
    if last.endswith("_year"):
        return "year"
    if last.endswith("m_eur"):
        return "m_eur"
    if last.endswith("_eur") or last.startswith("cost_ci_"):
        return "eur"
    if last.startswith("pre_gap_log"):
        return "estimate"
    return "number"


def headline_text(key: str, value: Any) -> str:
    """A headline number as the report writes it (:func:`headline_kind`)."""
    return formats.number(value, headline_kind(key))


def headline_variables(results: dict) -> dict:
    """Nested mapping run -> key -> formatted string, for ``{{< var run.key >}}``."""

    def fmt(prefix: str, tree: Any) -> Any:
        if isinstance(tree, dict):
            return {k: fmt(f"{prefix}.{k}", v) for k, v in tree.items()}
        return headline_text(prefix, tree)

    return {run: fmt(run, tree) for run, tree in results["headline"].items()}


def flatten_headline(results: dict) -> dict[str, Any]:
    """``{"run.key.sub": value}`` for every headline number (used by tests and checks)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, tree: Any) -> None:
        if isinstance(tree, dict):
            for key, value in tree.items():
                walk(f"{prefix}.{key}" if prefix else key, value)
        else:
            flat[prefix] = tree

    walk("", results["headline"])
    return flat


def crossref_label(kind: str, *parts: str) -> str:
    """A Quarto cross-reference label such as ``tbl-main-matched-balance-a``: the kind
    (``tbl`` or ``fig``) and the parts, with hyphens for underscores, as Quarto advises."""
    return "-".join((kind, *parts)).replace("_", "-")


CROSSREF = re.compile(r"@((?:tbl|fig)-[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*)")


def table_markdown(frame: pd.DataFrame, caption: str, label: str | None = None) -> str:
    """A pipe table with a caption line, readable by both Quarto and pandoc: headers and
    codes in text cells labelled by ``evaluation.study.labels``, numbers written by the
    kind the registry gives their column (numeric columns it does not list: as stored),
    numeric columns right-aligned. A ``label`` (``tbl-...``) numbers it and lets the text
    cite it as ``@label``."""
    headers, kinds = [], []
    for name in frame.columns:
        header, kind = labels.column(str(name))
        headers.append(header)
        kinds.append(kind or ("number" if pd.api.types.is_numeric_dtype(frame[name]) else "text"))

    def cell(name: str, value: Any, kind: str) -> str:
        text = formats.cell(value, kind)
        return labels.cell_text(name, text) if isinstance(value, str) and text == value else text

    cells = [[cell(str(name), v, kind) for name, v, kind in zip(frame.columns, row, kinds)]
             for row in frame.itertuples(index=False)]
    align = "|" + "|".join(":---" if kind == "text" else "---:" for kind in kinds) + "|"
    lines = ["| " + " | ".join(headers) + " |", align, *("| " + " | ".join(r) + " |" for r in cells)]
    return "\n".join([*lines, "", f": {caption}" + (f" {{#{label}}}" if label else ""), ""])


def figure_markdown(path: str, caption: str, alt: str, label: str) -> str:
    alt = alt.replace('"', "'")
    return f'![{caption}]({path}){{#{label} fig-alt="{alt}" width="90%"}}\n'


def labelled_note(note: str, label: str | None, caption: str) -> str:
    """``note`` as it stands in place of the table or figure ``label``: a div with that
    label and ``caption``, so that the text's ``@label`` still resolves; unchanged when
    the text does not cite it (``label`` None)."""
    return f"::: {{#{label}}}\n{note}\n{caption}\n:::\n" if label else note


def cited_label(run_id: str, key: str, cited: set[str]) -> str | None:
    """The label the report's text cites for output ``key`` of run ``run_id``, if any."""
    for kind in ("tbl", "fig"):
        if (label := crossref_label(kind, run_id, key)) in cited:
            return label
    return None


def not_estimable_markdown(reason: str, label: str | None = None) -> str:
    """The note that stands in the report where a table or figure cannot be made."""
    reason = reason.strip()
    if reason:
        first = reason.split()[0]
        if first.isalpha() and first.islower():  # not a file or column name such as applications.csv
            reason = reason[0].upper() + reason[1:]
        reason += "" if reason[-1] in ".!?" else "."
    note = f"::: {{.callout-note}}\n**Not estimable with these data.** {reason}\n:::\n"
    return labelled_note(note, label, "Not estimable with these data")


INCLUDE = re.compile(r"\{\{<\s*include\s+(generated/[^\s>]+)\s*>\}\}")


def fill_missing_includes(source: Path, run_ids: list[str]) -> None:
    """Give every ``{{< include generated/... >}}`` of ``source`` that no run produced a
    note saying why, so that a study grid without some run still renders."""
    text = source.read_text(encoding="utf-8")
    cited = set(CROSSREF.findall(text))
    for relative in INCLUDE.findall(text):
        target = source.parent / relative
        if target.exists():
            continue
        parts = Path(relative).parts
        run_id = parts[1] if len(parts) > 2 else None
        why = (f"This study's grid (study.yml) has no run `{run_id}`." if run_id and run_id not in run_ids
               else f"Run `{run_id}` did not produce `{Path(relative).stem}`.")
        target.parent.mkdir(parents=True, exist_ok=True)
        label = cited_label(run_id, Path(relative).stem, cited) if run_id else None
        note = f"::: {{.callout-note}}\n**Not available.** {why}\n:::\n"
        target.write_text(labelled_note(note, label, "Not available"), encoding="utf-8")


def write_generated(results: dict, runs: list[Run], generated: Path, cited: set[str] = frozenset()) -> None:
    """Tables, figures and not-estimable notes of every run as include-able Markdown
    snippets; tables and figures labelled ``tbl-<run>-<key>`` and ``fig-<run>-<key>``,
    and a note carries the label that ``cited`` (the text's cross-references) holds for it."""
    for run in runs:
        run_out = generated / run.id
        run_out.mkdir(parents=True, exist_ok=True)
        res = results["runs"][run.id]
        for key, reason in res.get("not_estimable", {}).items():
            note = not_estimable_markdown(reason, cited_label(run.id, key, cited))
            (run_out / f"{key}.md").write_text(note, encoding="utf-8")
        for key, table in res.get("tables", {}).items():
            frame = pd.read_csv(run.folder / table["file"], keep_default_na=False, na_values=[""])
            md = table_markdown(frame, table["caption"], crossref_label("tbl", run.id, key))
            (run_out / f"{key}.md").write_text(md, encoding="utf-8")
        for key, fig in res.get("figures", {}).items():
            shutil.copyfile(run.folder / fig["file"], run_out / fig["file"])
            rel = f"generated/{run.id}/{fig['file']}"
            md = figure_markdown(rel, fig["caption"], fig["alt"], crossref_label("fig", run.id, key))
            (run_out / f"{key}.md").write_text(md, encoding="utf-8")


def load_tables(results: dict, runs: list[Run]) -> dict[str, dict[str, pd.DataFrame]]:
    """Every run's CSV tables as data frames, for the rules of ``findings``."""
    tables: dict[str, dict[str, pd.DataFrame]] = {}
    for run in runs:
        for key, table in results["runs"][run.id].get("tables", {}).items():
            tables.setdefault(run.id, {})[key] = pd.read_csv(run.folder / table["file"], keep_default_na=False, na_values=[""])
    return tables


def title_metadata(report: Any, dataset: dict, today: datetime.date | None = None) -> dict[str, str]:
    """The title page's fields from study.yml's ``report`` section; on synthetic data the
    status says the report is an illustration whatever the study file says."""
    date = report.date or today or datetime.date.today()
    status = report.status or ("final report" if not dataset.get("synthetic") else "")
    if dataset.get("synthetic") and "synthetic" not in status.lower():
        status = (status + "; " if status else "") + "illustration on synthetic data, not an evaluation of the real programme"
    return {
        "commissioning body": report.commissioning_body or "not stated",
        "evaluator": report.evaluator or "not stated",
        "version": report.version or "not stated",
        "date": date.isoformat(),
        "status": status,
        "data": f"`{dataset['name']}`" if dataset.get("name") else "not stated",
    }


def title_page_markdown(meta: dict[str, str]) -> str:
    return table_markdown(pd.DataFrame(list(meta.items()), columns=["", "about this report"]), "About this report")


FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def stamp_front_matter(source: Path, meta: dict[str, str]) -> None:
    """Write the date and (when stated) the evaluator as author into the staged source's
    YAML front matter, which both Quarto and pandoc read."""
    text = source.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    front = (yaml.safe_load(match.group(1)) or {}) if match else {}
    front["date"] = meta["date"]
    if meta["evaluator"] != "not stated":
        front["author"] = meta["evaluator"]
    body = text[match.end():] if match else text
    source.write_text("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n" + body, encoding="utf-8")


def data_banner(dataset: dict) -> str:
    """The notice at the top of the report, from ``dataset.json`` alone: a warning box
    when the data are synthetic (with the generator and seed only when the file names
    them), else a note with the data set's name and description."""
    name, description = dataset.get("name"), str(dataset.get("description", "")).strip()
    if dataset.get("synthetic"):
        made_by = ""
        if dataset.get("generator"):
            made_by = f", made by `{dataset['generator']}`" + (f" with seed {dataset['seed']}" if dataset.get("seed") is not None else "")
        return (
            "::: {.callout-warning}\n"
            f"**Synthetic data.** Every number in this report comes from synthetic data (`{name}`{made_by}). "
            + (f"{description} " if description else "")
            + "They illustrate the method and say nothing about real firms or the real effect of the programme.\n"
            ":::\n"
        )
    return f"::: {{.callout-note}}\n**Data:** `{name}`. {description}\n:::\n"


def git_revision(root: Path) -> str:
    """``HEAD``'s SHA, with ``+dirty`` when tracked files differ from it."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return sha + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config: StudyConfig, data: StudyData, runs: list[Run], engine: str, root: Path) -> dict:
    return {
        "git": git_revision(root),
        "data_dir": str(config.data.dir.relative_to(root) if config.data.dir.is_relative_to(root) else config.data.dir),
        "data_sha256": data.data_hash,
        "data_files": data.sha256,
        "synthetic": bool(data.dataset.get("synthetic")),
        "generator_seed": data.dataset.get("seed"),
        "packages": package_versions(),
        "kernel": config.execution.kernel,
        "runs": {run.id: {"notebook": run.notebook.path.name, "parameters": run.parameter_set.parameters} for run in runs},
        "engine": engine,
        "report": {k: (str(v) if v is not None else None) for k, v in config.report.model_dump(
            include={"commissioning_body", "evaluator", "version", "date", "status"}).items()},
    }


def provenance_markdown(stamp: dict) -> str:
    items = [
        ("git commit", f"`{stamp['git']}`"),
        ("data folder", f"`{stamp['data_dir']}`"),
        ("data sha256 (all files)", f"`{stamp['data_sha256']}`"),
        *[(f"sha256 of {name}", f"`{digest}`") for name, digest in sorted(stamp["data_files"].items())],
        ("synthetic data", formats.number(stamp["synthetic"], "bool")),
        ("generator seed", "not applicable" if stamp["generator_seed"] is None else str(stamp["generator_seed"])),
        ("Jupyter kernel", f"`{stamp['kernel']}`"),
        ("rendered by", stamp["engine"]),
    ]
    runs = [
        (f"`{rid}`", f"`{info['notebook']}`", f"`{json.dumps(info['parameters'], sort_keys=True)}`" if info["parameters"] else "defaults")
        for rid, info in stamp["runs"].items()
    ]
    return "\n".join([
        table_markdown(pd.DataFrame(items, columns=["item", "value"]), "Provenance of this report", "tbl-provenance"),
        table_markdown(pd.DataFrame(list(stamp["packages"].items()), columns=["package", "version"]), "Software versions",
                       "tbl-software"),
        table_markdown(pd.DataFrame(runs, columns=["run", "notebook", "parameters"]),
                       "Notebook runs (papermill) and their parameters", "tbl-runs"),
    ])


def report_sources(root: Path, report_dir: Path) -> list[Path]:
    """The Quarto project's sources: ``_quarto.yml`` and everything under ``reports/``
    except rendered output and generated snippets."""
    sources = [root / "_quarto.yml"]
    for path in sorted(report_dir.rglob("*")):
        rel = path.relative_to(report_dir).parts
        if path.is_file() and rel[0] not in {"_output", "generated", ".quarto"}:
            sources.append(path)
    return sources


def report_key(sources: list[Path], root: Path, runs: list[Run], stamp: dict) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    for run in runs:
        digest.update(run.key.encode())
    digest.update(json.dumps(stamp, sort_keys=True).encode())
    return digest.hexdigest()


def build(config: StudyConfig, data: StudyData, runs: list[Run], force: bool = False) -> Path:
    """Assemble and render the report into ``config.report.output_dir``; skip if unchanged."""
    root = config.report.source.parent.parent
    report_dir = config.report.source.parent
    engine = render.detect_engine()
    stamp = provenance(config, data, runs, engine, root)
    sources = report_sources(root, report_dir)
    key = report_key(sources, root, runs, stamp)
    out = config.report.output_dir
    if not force and (out / KEY_FILE).exists() and (out / KEY_FILE).read_text() == key:
        print(f"Report unchanged: {out}", flush=True)
        return out

    results = collect_results(config, data, runs)
    config.execution.build_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".report-", dir=config.execution.build_dir))
    try:
        for source in sources:
            target = stage / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        stage_reports = stage / report_dir.relative_to(root)
        generated = stage_reports / "generated"
        source = stage_reports / config.report.source.name
        write_generated(results, runs, generated, set(CROSSREF.findall(source.read_text(encoding="utf-8"))))
        (generated / "data_banner.md").write_text(data_banner(data.dataset), encoding="utf-8")
        (generated / "provenance.md").write_text(provenance_markdown(stamp), encoding="utf-8")
        narrative.write_text_snippets(results, generated / "text",
                                      narrative.read_montecarlo(report_dir / narrative.MONTECARLO_FILE))
        findings.write_text_snippets(results, generated / "text", load_tables(results, runs))
        meta = title_metadata(config.report, data.dataset)
        (generated / "title_page.md").write_text(title_page_markdown(meta), encoding="utf-8")
        stamp_front_matter(source, meta)
        fill_missing_includes(source, [run.id for run in runs])
        (stage / "_variables.yml").write_text(
            yaml.safe_dump(headline_variables(results), sort_keys=True, allow_unicode=True), encoding="utf-8"
        )
        rendered = stage / "_rendered"
        rendered.mkdir()
        print(f"Rendering the report with {engine} ...", flush=True)
        render.render(stage, source, rendered, engine)
        (rendered / "results.json").write_text(
            json.dumps({**results, "provenance": stamp}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (rendered / KEY_FILE).write_text(key)
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(rendered, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(f"Report written to {out}", flush=True)
    return out
