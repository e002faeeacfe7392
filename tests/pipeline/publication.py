"""What a rendered report must look like whichever engine rendered it, as lists of
problems (empty: fine): shared by the fast renderer tests and the whole-study test."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader

A4_PT = (595.3, 841.9)
# An element that loads a resource (script, style sheet, image, frame, media) from the network.
NETWORK = re.compile(r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?"
                     r"\b(?:src|href|data)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.IGNORECASE)
MATH_SCRIPT = re.compile(r"<script\b[^>]*(?:mathjax|katex)|window\.MathJax\b", re.IGNORECASE)
UNRESOLVED = re.compile(r"\?@((?:tbl|fig)-[\w-]+)")


def numbering_problems(text: str) -> list[str]:
    """Tables and figures numbered ("Table 1", "Figure 1") and no cross-reference left unresolved."""
    problems = [f"no '{kind} 1'" for kind in ("Table", "Figure") if not re.search(rf"\b{kind}\s+1\b", text)]
    return problems + [f"unresolved cross-reference @{label}" for label in UNRESOLVED.findall(text)]


def html_problems(html: str) -> list[str]:
    """Self-contained (no network resource), no math script, numbered sections,
    numbered tables and figures, every cross-reference resolved."""
    problems = [f"loads {url} from the network" for url in NETWORK.findall(html)]
    if MATH_SCRIPT.search(html):
        problems.append("math needs MathJax or KaTeX instead of MathML")
    if 'class="header-section-number"' not in html:
        problems.append("sections are not numbered")
    return problems + numbering_problems(html)


def pdf_problems(pdf: Path) -> list[str]:
    """A4 pages (portrait, or landscape for wide tables), numbered sections, numbered
    tables and figures, every cross-reference resolved."""
    reader = PdfReader(pdf)
    problems = []
    for number, page in enumerate(reader.pages, 1):
        size = sorted((round(float(page.mediabox.width), 1), round(float(page.mediabox.height), 1)))
        if tuple(size) != A4_PT:
            problems.append(f"page {number} is {size[0]} x {size[1]} pt, not A4")
    text = "\n".join(page.extract_text() for page in reader.pages)
    if not re.search(r"^1\.?\s+\S", text, re.MULTILINE) or not re.search(r"^2\.?\s+\S", text, re.MULTILINE):
        problems.append("sections are not numbered")
    return problems + numbering_problems(text)


def landscape_pages(pdf: Path) -> int:
    return sum(float(page.mediabox.width) > float(page.mediabox.height) for page in PdfReader(pdf).pages)
