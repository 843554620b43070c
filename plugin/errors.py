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


class NotFoundError(DomainError):
    """The thing does not exist, or the caller may not know that it does."""

    status = 404
    title = "Not found"


class ForbiddenError(DomainError):
    """The caller is known but may not do this."""

    status = 403
    title = "Forbidden"


class ConflictError(DomainError):
    """The request contradicts the current state (a reply to a deleted comment, a vote on your own review)."""

    status = 409
    title = "Conflict"


class InvalidFieldError(DomainError):
    """A field of the request is not acceptable; ``field`` names it so a form can show the error beside it."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
