"""Languages: Flask-Babel with the launch's locale, catalogues in ``plugin/translations``.

The LMS tells us the learner's language in the launch (``launch_presentation.locale``, e.g.
``de-DE``); the widget token carries it to every later request. Views put it in ``g.locale``;
without it the browser's Accept-Language decides. Supported: English, German, French.
"""

from __future__ import annotations

import flask_babel
from babel import Locale, UnknownLocaleError
from flask import Flask, g, request
from flask_babel import Babel

SUPPORTED = ("en", "de", "fr")
DEFAULT = "en"


def supported_locale(tag: str | None) -> str | None:
    """The supported language of a BCP 47 / POSIX tag (``de-AT`` -> ``de``), or None."""
    if not tag:
        return None
    try:
        language = Locale.parse(tag.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in SUPPORTED else None


def select_locale() -> str:
    chosen = supported_locale(g.get("locale"))
    if chosen:
        return chosen
    return request.accept_languages.best_match(SUPPORTED) or DEFAULT


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals.update(
        get_locale=flask_babel.get_locale,
        format_date=flask_babel.format_date,
        format_number=flask_babel.format_number,
        format_decimal=flask_babel.format_decimal,
    )
