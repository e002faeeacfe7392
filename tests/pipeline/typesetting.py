"""What a reader of the rendered report must never see: a name from the code outside a
code span, a negative zero, a hyphen for a minus, a year with a thousands separator, a
p-value not written by the rule (3 decimals or "< 0.001"). Used by the tests that render
the study (``test_study.py``, ``test_foreign_data.py``) and tried on planted strings in
``test_typesetting.py``."""

from __future__ import annotations

import re
from html import unescape

HIDDEN = re.compile(r"<(code|pre|script|style|math)\b.*?</\1>|<span class=\"math[^\"]*\">.*?</span>", re.DOTALL)
URL = re.compile(r"https?://\S+")
SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
NAME_VALUE = re.compile(r"\b[A-Za-z_]\w*=\S")
NEGATIVE_ZERO = re.compile(r"(?<![\d.,])[-\u2212]0(?:[.,]0+)?(?![\d.,]*[1-9])(?![\w])")
HYPHEN_MINUS = re.compile(r"(?<![\w\-\u2013)\]])-\d")
P_VALUE = re.compile(r"\bp (=|<) ([0-9][0-9.,]*)")
ALLOWED: set[str] = set()
"""Real words that look like code; none so far."""


def visible_text(html: str) -> str:
    """The report's text as a reader sees it: tags, code spans, code blocks, math and
    URLs removed, entities decoded, white space collapsed."""
    text = HIDDEN.sub(" ", html)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", URL.sub(" ", unescape(text)))


def problems(html: str, years: set[int], quoted: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every offending string of the visible text, by rule (empty lists when clean);
    ``years``: the years the data can show; ``quoted``: text the report quotes verbatim
    from the data's provider (``dataset.json``'s description), left out of the check."""
    text = visible_text(html)
    for words in quoted:
        plain = text.replace("\u2018", "'").replace("\u2019", "'")
        start = plain.find(words)
        if start >= 0:
            text = text[:start] + text[start + len(words):]
    found = {
        "identifier": sorted(set(SNAKE.findall(text)) - ALLOWED),
        "name=value": sorted(set(NAME_VALUE.findall(text))),
        "negative zero": NEGATIVE_ZERO.findall(text),
        "hyphen for minus": [text[max(m.start() - 20, 0):m.end() + 5] for m in HYPHEN_MINUS.finditer(text)],
        "year with separator": [f"{y:,}" for y in sorted(years) if re.search(rf"(?<![\d,.]){y:,}(?![\d,])", text)],
        "p-value": [],
    }
    for sign, value in P_VALUE.findall(text):
        plain = value.rstrip(".,").replace(",", ".")
        if (sign == "<" and plain != "0.001") or (sign == "=" and not re.fullmatch(r"\d\.\d{3}", plain)) or plain == "0.000":
            found["p-value"].append(f"p {sign} {plain}")
    return {rule: hits for rule, hits in found.items() if hits}
