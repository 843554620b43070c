"""Keep each refused login, launch or registration for the operator console (``/admin/failures``).

The learner sees a code (the request id); the console finds the refusal under it, with the reason,
the fix and the issuer / client id / deployment id. The request's own transaction is rolled back
on every refusal (status >= 400, ``plugin/app.py``), so the row is written in a short session and
transaction of its own. Recording never fails the refusal: a database error is logged and the
learner still gets the page. The table keeps the newest ``WOM_LAUNCH_FAILURES_KEPT`` rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import current_app, g, request
from sqlalchemy.orm import Session

from plugin.services import launch_failures
from plugin.web import get_settings

log = logging.getLogger("wordofmouth.lti")


def _login_parameters() -> dict[str, str]:
    """What a refused login named (plain parameters: the refusal may come before any is checked)."""
    if request.endpoint != "lti.login":
        return {}
    sent = {"issuer": "iss", "client_id": "client_id", "deployment_id": "lti_deployment_id"}
    return {name: value.strip() for name, param in sent.items() if (value := request.values.get(param, "")).strip()}


def record_refusal(status: int, reason: str, hint: str = "", context: Mapping[str, str] | None = None) -> None:
    """Store this request's refusal; log, never raise, when the database does not take it."""
    context = {**_login_parameters(), **(context or {})}
    # The request's transaction ends in a rollback anyway (a 4xx): end it now, so that on SQLite
    # it holds no write lock the recording below would wait for.
    request_session: Session | None = g.get("db_session")
    if request_session is not None:
        request_session.rollback()
    refusal = launch_failures.Refusal(
        request_id=g.get("request_id") or "-",
        endpoint=request.endpoint or request.path,
        status=status,
        reason=reason,
        hint=hint,
        issuer=context.get("issuer"),
        client_id=context.get("client_id"),
        deployment_id=context.get("deployment_id"),
    )
    try:
        session: Session = current_app.extensions["wordofmouth.sessions"]()
        try:
            launch_failures.record(session, refusal, keep=get_settings().launch_failures_kept)
            session.commit()
        finally:
            session.close()
    except Exception:  # whatever went wrong, the learner still gets the refusal page
        log.exception("could not record the refusal for the console (it is still logged above)")
