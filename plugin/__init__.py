"""Word of Mouth core: the app factory, settings, models, services and CLI.

``gunicorn 'plugin:create_app()'`` serves it in production. ``create_app`` is loaded lazily so
that importing the models (Alembic, the adapters) does not pull in the whole web application.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from plugin.app import create_app

        return create_app
    raise AttributeError(f"module 'plugin' has no attribute {name!r}")
