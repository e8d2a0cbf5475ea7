"""Rich text from staff: sanitised with nh3, and plain text keeps its paragraphs."""

from __future__ import annotations

from app.core.html import html_to_text, sanitize_html


def test_blank_lines_typed_by_staff_become_paragraphs():
    typed = "Soft merino.\r\n\r\nMachine washable\nat 30 °C.\n\n\nMade in Ireland."
    assert sanitize_html(typed) == (
        "<p>Soft merino.</p><p>Machine washable<br>at 30 °C.</p><p>Made in Ireland.</p>"
    )
    assert html_to_text(sanitize_html(typed)) == (
        "Soft merino. Machine washable at 30 °C. Made in Ireland."
    )


def test_markup_is_kept_as_written_and_dangerous_parts_dropped():
    assert sanitize_html("<p>One</p>\n\n<p>Two</p>") == "<p>One</p>\n\n<p>Two</p>"
    assert sanitize_html("Line\n\n<script>alert(1)</script><b onclick=x>bold</b>") == (
        "<p>Line</p><p><b>bold</b></p>"
    )
    assert (
        sanitize_html('<a href="javascript:alert(1)">x</a>')
        == '<a rel="noopener noreferrer nofollow">x</a>'
    )
