"""Launch failures that name the problem and what the admin (or learner) should do."""

from __future__ import annotations


class LaunchError(Exception):
    """A rejected login or launch. ``detail`` says what is wrong; ``hint`` what to do about it."""

    def __init__(self, detail: str, hint: str = "", *, status: int = 400, title: str = "This launch was refused"):
        super().__init__(detail)
        self.detail = detail
        self.hint = hint
        self.status = status
        self.title = title
        self.context: dict[str, str] = {}

    def about(self, **context: str | None) -> LaunchError:
        """Attach issuer / client / deployment for the log line."""
        self.context.update({k: v for k, v in context.items() if v})
        return self
