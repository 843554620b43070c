"""Error answers: RFC 9457 problem details for the API, a friendly page for people.

https://www.rfc-editor.org/rfc/rfc9457 -- ``type``, ``title``, ``status``, ``detail`` and
``instance``; we add ``request_id`` so a learner's report can be matched with our log line.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, render_template, request

PROBLEM_JSON = "application/problem+json"
API_PREFIXES = ("/api/", "/healthz", "/lti/jwks")


def wants_json() -> bool:
    """API paths and clients that prefer JSON get problem details; people get a page."""
    if request.path.startswith(API_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best in ("application/json", PROBLEM_JSON)


def problem(status: int, title: str, detail: str, *, type_: str = "about:blank", **extra: Any) -> Response:
    """Answer with a problem, as JSON or HTML depending on who asks."""
    request_id = getattr(g, "request_id", None)
    if wants_json():
        body = {"type": type_, "title": title, "status": status, "detail": detail, "instance": request.path}
        if request_id:
            body["request_id"] = request_id
        body.update(extra)
        response = jsonify(body)
        response.mimetype = PROBLEM_JSON
    else:
        response = Response(
            render_template("problem.html", status=status, title=title, detail=detail, request_id=request_id),
            mimetype="text/html",
        )
    response.status_code = status
    return response
