"""The operator console (``/admin``): for the people who run Word of Mouth, not for LMS users.

See ``docs/console.md``. It uses the core's services only (import-linter: the core never imports
the adapters), so it lives in the core and the app factory registers it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from plugin.console.views import init_app as register

    register(app)
