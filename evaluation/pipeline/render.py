"""Render the staged Quarto project: with Quarto if installed, else offline.

The offline path uses the engines Quarto wraps: pandoc (from the ``pypandoc-binary``
wheel) writes self-contained HTML, and pandoc's typst writer plus the ``typst``
wheel write the PDF. Neither needs LaTeX or the network. It understands the small
part of Quarto's syntax the report uses: ``{{< var a.b >}}`` (values from
``_variables.yml``), ``{{< include file >}}``, ``fig-alt`` on figures and
``.callout-*`` divs (the last two in ``render_assets/offline.lua``), and citations
``[@key]`` from the front matter's ``bibliography`` (pandoc ``--citeproc``, with its
built-in Chicago author-date style, as Quarto uses by default).
"""

from __future__ import annotations

import re
import shutil
import subprocess
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


def _render_offline(project: Path, source: Path, out_dir: Path) -> None:
    import pypandoc
    import typst

    variables_file = project / "_variables.yml"
    variables = yaml.safe_load(variables_file.read_text(encoding="utf-8")) if variables_file.exists() else {}
    base = source.parent
    markdown = base / f"{source.stem}.offline.md"
    markdown.write_text(expand_shortcodes(source.read_text(encoding="utf-8"), variables, base), encoding="utf-8")
    # --columns: no source line counts as "long", so pipe tables keep natural column
    # widths instead of widths proportional to their dashes.
    # --citeproc resolves [@key] citations from the front matter's bibliography (as
    # Quarto does) in both outputs, so the PDF holds formatted citations, not typst's.
    common = ["--standalone", "--toc", "--columns=1000", "--citeproc", "--lua-filter", str(ASSETS / "offline.lua"),
              f"--resource-path={base}"]
    try:
        pypandoc.convert_file(
            str(markdown), "html5", format="markdown",
            outputfile=str(out_dir / f"{source.stem}.html"),
            extra_args=[*common, "--embed-resources", "--css", str(ASSETS / "offline.css")],
            cworkdir=str(base),
        )
        typ = base / f"{source.stem}.typ"
        pypandoc.convert_file(
            str(markdown), "typst", format="markdown", outputfile=str(typ), extra_args=common, cworkdir=str(base)
        )
        typst.compile(str(typ), output=str(out_dir / f"{source.stem}.pdf"), root=str(base))
    except (RuntimeError, OSError, typst.TypstError) as err:
        raise RenderError(f"offline rendering of {source.name} failed: {err}") from None
