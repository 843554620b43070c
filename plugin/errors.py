"""Exceptions of the core that carry a message meant for people."""


class ConfigurationError(SystemExit):
    """The service cannot start with these settings.

    A ``SystemExit`` so that every entry point (the CLI, ``gunicorn 'plugin:create_app()'``)
    stops with the one-line reason instead of a stack trace.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"wordofmouth: {reason}")
        self.reason = reason


class DomainError(Exception):
    """A request the domain refuses; ``status`` and ``title`` map it to a 4xx answer."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
