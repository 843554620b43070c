"""Learner text to HTML: escaped, line breaks kept, web addresses made into safe links.

Nothing a learner types is ever treated as HTML. The text is escaped piece by piece; only the
``<a>`` and ``<br>`` this filter writes itself are markup. Links open outside the LMS frame and
carry ``rel="nofollow ugc noopener"`` (https://developers.google.com/search/docs/crawling-indexing/qualify-outbound-links).
"""

from __future__ import annotations

from linkify_it import LinkifyIt
from markupsafe import Markup, escape

_LINKS = LinkifyIt()
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _with_breaks(text: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in text.split("\n"))


def linkify(text: str | None) -> Markup:
    """``text`` as HTML: escaped, ``\\n`` as ``<br>``, http(s) and mail addresses as links."""
    if not text:
        return Markup("")
    out = Markup("")
    position = 0
    for match in _LINKS.match(text) or []:
        url = match.url
        if not url.lower().startswith(_SAFE_SCHEMES):
            continue
        out += _with_breaks(text[position : match.index])
        out += Markup('<a href="{}" rel="nofollow ugc noopener" target="_blank">{}</a>').format(url, match.text)
        position = match.last_index
    return out + _with_breaks(text[position:])
