"""Learner text as we store it: plain text, normalised line endings, no control characters."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab and line breaks, and lone surrogates (they cannot be stored as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(value: str | None) -> str | None:
    """Plain text with ``\\n`` line breaks, trimmed, at most one blank line in a row; None when empty.

    Nothing is escaped here: text is stored as typed and escaped where it is rendered.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
    return text or None
