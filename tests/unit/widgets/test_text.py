"""Learner text becomes escaped HTML with safe links and kept line breaks."""

from __future__ import annotations

import pytest

from widgets.text import linkify


def test_markup_is_escaped_and_line_breaks_kept() -> None:
    html = linkify('<script>alert("x")</script>\n<b>bold</b>')
    assert html == "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>\n&lt;b&gt;bold&lt;/b&gt;"


def test_web_addresses_become_safe_links() -> None:
    html = linkify("see https://example.org/a?b=1&c=2 or www.example.com.")
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener" target="_blank">' in html
    assert '<a href="http://www.example.com" rel="nofollow ugc noopener" target="_blank">www.example.com</a>.' in html


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        'https://example.org/"onmouseover="alert(1)',
        "<a href='https://example.org'>x</a>",
    ],
)
def test_nothing_executable_survives(text: str) -> None:
    html = str(linkify(text))
    assert "<script" not in html
    assert 'href="javascript' not in html and 'href="data' not in html
    assert '"onmouseover' not in html
    assert "<a href='" not in html


def test_empty_text_is_empty_markup() -> None:
    assert linkify(None) == "" and linkify("") == ""
