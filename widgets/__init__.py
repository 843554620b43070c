"""Widgets adapter: the pages and JSON API that learners use inside the LMS iframe."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from widgets.api import bp

    app.register_blueprint(bp)
