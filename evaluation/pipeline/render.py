"""Render the staged Quarto project: with Quarto if installed, else offline.

The offline path uses the engines Quarto wraps: pandoc (from the ``pypandoc-binary``
wheel) writes self-contained HTML, and pandoc's typst writer plus the ``typst``
wheel write the PDF. Neither needs LaTeX or the network. It understands the small
part of Quarto's syntax the report uses: ``{{< var a.b >}}`` (values from
``_variables.yml``), ``{{< include file >}}``, the options of ``_quarto.yml``'s
``format`` it reads (``toc``, ``number-sections``, ``toc-title``; ``papersize`` and
``margin`` for typst), and in ``render_assets/offline.lua``: ``fig-alt`` on figures,
``.callout-*`` and ``.landscape`` divs, and cross-references (tables labelled
``: caption {#tbl-x}``, figures ``![caption](file){#fig-x}``, numbered in document
order, cited as ``@tbl-x``/``@fig-x``). Citations ``[@key]`` come from the front
matter's ``bibliography`` (pandoc ``--citeproc``, with its built-in Chicago
author-date style, as Quarto uses by default). Math is MathML in the HTML
(``html-math-method: mathml`` for Quarto), so neither output loads anything.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import yaml

ASSETS = Path(__file__).resolve().parent / "render_assets"
SHORTCODE = re.compile(r"\{\{<\s*(\w+)\s+([^>]*?)\s*>\}\}")


class RenderError(RuntimeError):
    """The report could not be rendered; the message says which step and why."""


def detect_engine() -> str:
    """A description of the engine that will render: Quarto when on PATH, else offline."""
    quarto = shutil.which("quarto")
    if quarto:
        version = subprocess.run([quarto, "--version"], capture_output=True, text=True).stdout.strip()
        return f"Quarto {version}"
    import pypandoc

    return (
        f"offline renderer: pandoc {pypandoc.get_pandoc_version()} (pypandoc-binary) for HTML, "
        f"the pandoc typst writer and typst {metadata.version('typst')} (typst wheel) for PDF"
    )


def render(project: Path, source: Path, out_dir: Path, engine: str) -> None:
    """Render ``source`` (a .qmd inside the staged ``project``) to ``out_dir/report.{html,pdf}``."""
    name = source.stem
    if engine.startswith("Quarto"):
        _render_quarto(project, name, out_dir)
    else:
        _render_offline(project, source, out_dir)
    for suffix in (".html", ".pdf"):
        if not (out_dir / f"{name}{suffix}").exists():
            raise RenderError(f"rendering produced no {name}{suffix}")


def _render_quarto(project: Path, name: str, out_dir: Path) -> None:
    done = subprocess.run(["quarto", "render"], cwd=project, capture_output=True, text=True)
    if done.returncode != 0:
        raise RenderError(f"quarto render failed:\n{done.stderr[-4000:]}")
    for suffix in (".html", ".pdf"):
        found = [p for p in project.rglob(f"{name}{suffix}") if out_dir not in p.parents]
        if found:
            shutil.copyfile(found[0], out_dir / f"{name}{suffix}")


def expand_shortcodes(text: str, variables: dict, base: Path, seen: tuple[Path, ...] = ()) -> str:
    """Replace ``{{< var key.sub >}}`` and ``{{< include path >}}`` as Quarto does.

    An unknown variable or an unsupported shortcode is an error, never a blank.
    """

    def replace(match: re.Match) -> str:
        kind, argument = match.group(1), match.group(2).strip()
        if kind == "var":
            value: object = variables
            for part in argument.split("."):
                if not isinstance(value, dict) or part not in value:
                    raise RenderError(f"{{{{< var {argument} >}}}}: no such key in _variables.yml (missing {part!r})")
                value = value[part]
            return str(value)
        if kind == "include":
            path = (base / argument).resolve()
            if path in seen:
                raise RenderError(f"{{{{< include {argument} >}}}} includes itself")
            if not path.exists():
                raise RenderError(f"{{{{< include {argument} >}}}}: file not found ({path})")
            return expand_shortcodes(path.read_text(encoding="utf-8"), variables, base, (*seen, path))
        raise RenderError(f"shortcode {kind!r} is not supported by the offline renderer")

    return SHORTCODE.sub(replace, text)


PAPER_PT = {"a4": (595.28, 841.89), "us-letter": (612.0, 792.0), "a5": (419.53, 595.28)}
UNIT_PT = {"pt": 1.0, "mm": 72 / 25.4, "cm": 72 / 2.54, "in": 72.0}


def length_pt(value: str) -> float:
    """A typst/CSS length such as ``2.5cm`` in points."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(pt|mm|cm|in)\s*", str(value))
    if not match:
        raise RenderError(f"_quarto.yml: cannot read the length {value!r} (use pt, mm, cm or in)")
    return float(match.group(1)) * UNIT_PT[match.group(2)]


def format_options(project: Path) -> dict[str, dict]:
    """``format.html`` and ``format.typst`` of the project's ``_quarto.yml`` with its
    top-level ``lang`` (empty when absent)."""
    path = project / "_quarto.yml"
    project_options = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    formats = project_options.get("format") or {}
    top = {"lang": project_options["lang"]} if "lang" in project_options else {}
    return {name: {**top, **(formats.get(name) or {})} for name in ("html", "typst")}


def pandoc_options(options: dict, kind: str) -> tuple[list[str], dict]:
    """pandoc arguments and metadata for one format's Quarto options; for typst the
    metadata also holds the text width (portrait and landscape, in points) with which
    ``offline.lua`` sizes table columns."""
    args = ["--toc", f"--toc-depth={options.get('toc-depth', 3)}"] if options.get("toc") else []
    meta = {key: options[key] for key in ("lang", "toc-title") if options.get(key)}
    if kind == "html":
        return args + (["--number-sections"] if options.get("number-sections") else []), meta
    paper = str(options.get("papersize", "us-letter"))
    if paper not in PAPER_PT:
        raise RenderError(f"_quarto.yml: papersize {paper!r} is not one the offline renderer knows ({', '.join(PAPER_PT)})")
    margin = options.get("margin", "1.25in")
    margin = {"x": margin.get("x", "1.25in"), "y": margin.get("y", "1.25in")} if isinstance(margin, dict) else {"x": margin, "y": margin}
    width, height = PAPER_PT[paper]
    meta |= {"papersize": paper, "margin": margin,
             "offline-text-width": round(width - 2 * length_pt(margin["x"]), 1),
             "offline-landscape-width": round(height - 2 * length_pt(margin["x"]), 1)}
    if options.get("number-sections"):
        meta["section-numbering"] = str(options.get("section-numbering", "1.1.1"))
    return args, meta


def _pandoc(markdown: Path, to: str, output: Path, args: list[str]) -> None:
    """pandoc ``markdown`` -> ``output``, run in the markdown's folder, its messages passed on.

    As ``pypandoc.convert_file`` (whose pandoc binary it runs), but that changes the whole
    process's working directory around its call, which is not safe while another thread
    renders; here only pandoc's process gets the folder."""
    import pypandoc

    markdown, output = markdown.absolute(), output.absolute()
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "--from=markdown", f"--to={to}", str(markdown), f"--output={output}", *args],
        cwd=markdown.parent, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pandoc ({to}) exited with code {done.returncode}: {done.stderr.strip()}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)


def _render_offline(project: Path, source: Path, out_dir: Path) -> None:
    import typst

    variables_file = project / "_variables.yml"
    variables = yaml.safe_load(variables_file.read_text(encoding="utf-8")) if variables_file.exists() else {}
    options = format_options(project)
    base = source.parent
    markdown = base / f"{source.stem}.offline.md"
    markdown.write_text(expand_shortcodes(source.read_text(encoding="utf-8"), variables, base), encoding="utf-8")
    # --columns: no source line counts as "long", so pipe tables keep natural column
    # widths instead of widths proportional to their dashes.
    # The filter runs before --citeproc, so that @tbl-x/@fig-x are cross-references,
    # not citations; citeproc then resolves [@key] from the front matter's bibliography
    # (as Quarto does) in both outputs, so the PDF holds formatted citations, not typst's.
    common = ["--standalone", "--columns=1000", "--lua-filter", str(ASSETS / "offline.lua"), "--citeproc",
              f"--resource-path={base}"]
    per_format = {}
    for kind in ("html", "typst"):
        args, meta = pandoc_options(options[kind], kind)
        meta_file = base / f"{source.stem}.{kind}-options.yml"
        meta_file.write_text(yaml.safe_dump(meta), encoding="utf-8")
        per_format[kind] = [*common, *args, f"--metadata-file={meta_file}"]
    try:
        # The HTML (one pandoc process) and the PDF (pandoc, then typst) do not depend on each
        # other: the HTML is written in a thread while the PDF is made (about 2.3 s each).
        with ThreadPoolExecutor(max_workers=1) as pool:
            html = pool.submit(
                _pandoc, markdown, "html5", out_dir / f"{source.stem}.html",
                [*per_format["html"], "--mathml", "--embed-resources",
                 "--template", str(ASSETS / "offline.html"), "--css", str(ASSETS / "offline.css")],
            )
            typ = base / f"{source.stem}.typ"
            _pandoc(markdown, "typst", typ, per_format["typst"])
            typst.compile(str(typ), output=str(out_dir / f"{source.stem}.pdf"), root=str(base))
            html.result()
    except (RuntimeError, OSError, typst.TypstError) as err:
        raise RenderError(f"offline rendering of {source.name} failed: {err}") from None
