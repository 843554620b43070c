"""Widgets adapter: the pages and JSON API that learners use inside the LMS iframe."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from plugin.web import get_settings
    from widgets.api import bp, rate_limit_key

    limit = get_settings(app).rate_limit_api
    if limit != "off":
        app.extensions["wordofmouth.limiter"].limit(limit, key_func=rate_limit_key)(bp)
    app.register_blueprint(bp)
