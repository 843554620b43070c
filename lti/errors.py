"""Launch failures: what is wrong, how the admin fixes it, and what the person in front of the page can do.

A refusal has two readers. The person who sees the page is usually a learner inside an LMS iframe:
they get a short translated explanation (``advice``) and a code (the request id) to give their LMS
administrator. The administrator gets the reason (``detail``) and the fix (``hint``, often a
``wordofmouth`` command) in the log line under that code, and in ``docs/lti.md``; commands are never
shown to learners.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (gettext's marker name)
    """Mark ``message`` for ``make translations``; the refusal page translates it when it is shown."""
    return message


# Titles.
REFUSED = N_("Word of Mouth could not open here")
NOT_COMPLETED = N_("This launch could not be completed")
NOT_ALLOWED = N_("Not allowed")
NOT_REGISTERED = N_("Word of Mouth could not be registered")

# What the person who sees the page can do about it.
TELL_ADMIN = N_(
    "The course or the LMS is not set up the way Word of Mouth needs. This is nothing you can fix yourself."
)
RELOAD = N_("The launch expired or was already used. Reload the course page and open Word of Mouth again.")
FROM_COURSE = N_("This address is for your LMS. Open Word of Mouth from a page of your course instead.")
ASK_INSTRUCTOR = N_("Only instructors can add Word of Mouth to a course. Ask an instructor of this course to add it.")
# Dynamic registration (lti/registration.py): the person who sees these is the LMS's administrator.
ASK_OPERATOR = N_(
    "The registration did not complete. Give the code below to whoever runs Word of Mouth: their log says "
    "what went wrong."
)
NEW_REGISTRATION_URL = N_(
    "Ask whoever runs Word of Mouth for a new registration URL. They make one with the command "
    "“wordofmouth registration-url --expires 24h” or in the operator console."
)


class LaunchError(Exception):
    """A rejected login or launch.

    ``detail`` says what is wrong (shown, and logged); ``hint`` how the admin fixes it (logged only);
    ``advice`` what the person who sees the page can do (one of the texts above, translated).
    """

    def __init__(
        self,
        detail: str,
        hint: str = "",
        *,
        status: int = 400,
        title: str = REFUSED,
        advice: str = TELL_ADMIN,
    ):
        super().__init__(detail)
        self.detail = detail
        self.hint = hint
        self.status = status
        self.title = title
        self.advice = advice
        self.context: dict[str, str] = {}

    def about(self, **context: str | None) -> LaunchError:
        """Attach issuer / client / deployment for the log line."""
        self.context.update({k: v for k, v in context.items() if v})
        return self
