"""Short-lived signed tokens that replace cookies after the launch.

The launch page hands the widgets a bearer token (platform, deployment, learner, item,
placement, roles); the widget API accepts nothing else, so no cookie is needed inside the LMS
iframe. The deep linking picker carries its own token in the form, which is also its CSRF
protection: only the page we rendered for a validated launch has it.

A token names its tenant by the platform's ``uid`` as well as its id: ids are reused on SQLite
after ``platform remove``, uids never are, so a token of a removed registration is refused (401)
instead of reading whichever platform got its id next.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import current_app, g, has_request_context, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.errors import ConflictError, DomainError, ForbiddenError
from plugin.models import Platform
from plugin.services import platforms
from plugin.web import db_session, get_settings

WIDGET_TOKEN_SECONDS = 2 * 60 * 60
DEEP_LINKING_TOKEN_SECONDS = 60 * 60
P = ParamSpec("P")
R = TypeVar("R")


class SessionExpiredError(DomainError):
    status = 401
    title = "Session expired"


class NotAuthorizedError(DomainError):
    status = 401
    title = "Not authorized"


@dataclass(frozen=True)
class WidgetGrant:
    """Who may do what, where: what a widget token proves."""

    platform_id: int
    deployment_id: str
    learner_id: int
    item_id: int
    placement_id: int | None
    roles: tuple[str, ...]
    staff: bool
    locale: str | None = None
    platform_uid: str = ""  # filled in by issue_widget_token: the tenant, never reused


def platform_uid(platform_id: int) -> str | None:
    """The never-reused uid of the platform that now has ``platform_id`` (None: no such platform)."""
    query = select(Platform.uid).where(Platform.id == platform_id)
    if has_request_context():
        return db_session().scalar(query)
    with current_app.extensions["wordofmouth.sessions"]() as session:  # scripts, tests: no request
        return session.scalar(query)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings(current_app).secret_key, salt=salt)


def issue_widget_token(grant: WidgetGrant) -> str:
    data = asdict(grant)
    data["platform_uid"] = grant.platform_uid or platform_uid(grant.platform_id) or ""
    return _serializer("wom-widget-token").dumps(data)


def read_widget_token(token: str, max_age: int = WIDGET_TOKEN_SECONDS) -> WidgetGrant:
    try:
        data = _serializer("wom-widget-token").loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise SessionExpiredError("Your session expired. Reload the page to continue.") from exc
    except BadSignature as exc:
        raise NotAuthorizedError("The access token is not valid. Reload the page to continue.") from exc
    data["roles"] = tuple(data.get("roles", ()))
    return WidgetGrant(**data)


def check_tenant(grant: WidgetGrant) -> None:
    """Refuse a grant whose platform was removed (its id may now name another platform)."""
    if not grant.platform_uid or platform_uid(grant.platform_id) != grant.platform_uid:
        raise NotAuthorizedError(
            "This access token is for an LMS registration that no longer exists. Reload the page to continue."
        )


def require_widget_token(view: Callable[P, R]) -> Callable[P, R]:
    """Accept only requests with ``Authorization: Bearer <widget token>``; sets ``g.grant``."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedError("This API needs the bearer token handed out at launch.")
        g.grant = read_widget_token(token.strip())
        check_tenant(g.grant)
        g.locale = g.grant.locale  # answers in the learner's LMS language (plugin/i18n.py)
        return view(*args, **kwargs)

    return wrapper


class FormAlreadyUsedError(ConflictError):
    title = "Already submitted"


def issue_deep_linking_token(payload: dict[str, Any]) -> str:
    """The picker form's token: single-use (``jti``) and bound to the registration's uid."""
    payload = {
        **payload,
        "jti": secrets.token_urlsafe(24),
        "platform_uid": platform_uid(payload["platform_id"]) or "",
    }
    return _serializer("wom-deep-linking").dumps(payload)


def use_deep_linking_token(session: Session, data: dict[str, Any]) -> None:
    """Spend a read picker token: refuse it when its registration is gone or it was used before.

    Submitting the same form twice (a double click, the back button) would otherwise make a second
    set of placements and a second signed response.
    """
    if not data.get("platform_uid") or platform_uid(data["platform_id"]) != data["platform_uid"]:
        raise ForbiddenError("This LMS registration was removed while the placement form was open.")
    expires_at = datetime.now(UTC) + timedelta(seconds=DEEP_LINKING_TOKEN_SECONDS)
    if not data.get("jti") or not platforms.use_form_token(session, str(data["jti"]), expires_at):
        raise FormAlreadyUsedError(
            "This placement form was already submitted. To add more widgets, open the tool selection "
            "again from the LMS."
        )


def read_deep_linking_token(token: str) -> dict[str, Any]:
    try:
        return _serializer("wom-deep-linking").loads(token, max_age=DEEP_LINKING_TOKEN_SECONDS)
    except SignatureExpired as exc:
        raise SessionExpiredError("This placement form expired. Open the tool selection again from the LMS.") from exc
    except BadSignature as exc:
        raise ForbiddenError("This placement form was not issued by Word of Mouth for this launch.") from exc
