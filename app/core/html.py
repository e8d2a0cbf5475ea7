"""Rich text: one allow-list, enforced with nh3 (the maintained successor of bleach)."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "code",
    "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": {"colspan", "rowspan"}}
_WHITESPACE = re.compile(r"\s+")
_BLOCK = re.compile(r"<\s*(p|br|ul|ol|li|h[1-6]|table|blockquote|pre|hr|div)\b", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n+")


def paragraphs(value: str) -> str:
    """Text typed with blank lines between paragraphs (and no block markup of its own) as
    paragraphs, single line breaks kept; HTML is left as written."""
    if _BLOCK.search(value):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" not in text:
        return text
    return "".join(
        "<p>" + "<br>".join(line.strip() for line in block.split("\n")) + "</p>"
        for block in _BLANK_LINES.split(text)
        if block.strip()
    )


def sanitize_html(value: str | None) -> str:
    """Keep formatting, drop scripts, styles, event handlers and javascript: links. Plain
    text keeps its paragraphs and line breaks (:func:`paragraphs`)."""
    if not value:
        return ""
    return nh3.clean(
        paragraphs(value),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def html_to_text(value: str | None) -> str:
    """Plain text for search indexes and meta descriptions."""
    if not value:
        return ""
    stripped = nh3.clean(value.replace("<", " <"), tags=set(), attributes={})
    return _WHITESPACE.sub(" ", html.unescape(stripped)).strip()


def summary(text: str, limit: int = 160) -> str:
    """The start of a plain text for search results and previews: one line, whole words,
    an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.-") + "…"
