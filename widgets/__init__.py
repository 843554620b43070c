"""Widgets adapter: the pages and JSON API that learners use inside the LMS iframe."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


class WidgetApi(Api):
    """flask-smorest's Api without its own error handler: the app answers every error as RFC 9457
    problem details (``plugin/app.py``), including the field errors of a 422."""

    def _register_error_handlers(self) -> None:
        pass


def init_app(app: Flask) -> None:
    from plugin.web import get_settings
    from widgets import fragments
    from widgets.api import WRITE_METHODS, bp, learner_limit_key, rate_limit_key
    from widgets.text import linkify

    settings = get_settings(app)
    app.config.update(
        API_TITLE="Word of Mouth widget API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = WidgetApi(
        app,
        spec_kwargs={
            "info": {"description": "Every call needs the bearer token the launch page hands out."},
            "security": [{"bearer": []}],
        },
    )
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    limiter = app.extensions["wordofmouth.limiter"]
    for blueprint in (bp, fragments.bp):
        if settings.rate_limit_api != "off":
            limiter.limit(settings.rate_limit_api, key_func=rate_limit_key)(blueprint)
    if settings.rate_limit_writes != "off":
        limiter.shared_limit(
            settings.rate_limit_writes, scope="widget-writes", key_func=learner_limit_key, methods=WRITE_METHODS
        )(bp)
    api.register_blueprint(bp)
    app.register_blueprint(fragments.bp)
    app.add_template_filter(linkify, "linkify")
