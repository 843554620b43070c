"""Error answers: RFC 9457 problem details for the API, a friendly page for people.

https://www.rfc-editor.org/rfc/rfc9457 -- ``type``, ``title``, ``status``, ``detail`` and
``instance``; we add ``request_id`` so a learner's report can be matched with our log line.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestURITooLarge

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


# The request line was too long for the HTTP server to read (werkzeug's development server stops at
# 64 KiB, gunicorn at 4 KiB by default): it answers itself, before the app sees a path or a header.
ADDRESS_TOO_LONG = (
    "The address is too long to read. Go back and follow the link again; if it keeps happening, "
    "give your administrator the request id below."
)


def answer_outside_app(app: Flask, exc: HTTPException, remote_addr: str = "") -> Response:
    """The app's own answer (page, request id, headers) to an error its HTTP server met first.

    Nothing of the request is known, so it is answered as ``GET /`` from a browser would be.
    """
    environ = {"REMOTE_ADDR": remote_addr} if remote_addr else {}
    with app.test_request_context("/", environ_base=environ):
        response = app.preprocess_request()  # a request id, as for every answer
        if response is None:
            response = app.handle_user_exception(exc)
        return app.process_response(app.make_response(response))


def styled_gunicorn_errors(app: Flask) -> None:
    """Under gunicorn, its own 414 page (a request line over ``--limit-request-line``) becomes ours.

    gunicorn writes that answer with ``gunicorn.util.write_error`` before any app is called; that
    function is wrapped here for 414 only (other statuses keep gunicorn's answer).
    """
    if "gunicorn" not in sys.modules:
        return
    import gunicorn.util

    original = getattr(gunicorn.util.write_error, "__wrapped__", gunicorn.util.write_error)

    @functools.wraps(original)
    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        if status_int != 414:
            original(sock, status_int, reason, mesg)
            return
        try:
            response = answer_outside_app(app, RequestURITooLarge(ADDRESS_TOO_LONG))
        except Exception:  # never worse than gunicorn's own page
            original(sock, status_int, reason, mesg)
            return
        body = response.get_data()
        head = [f"HTTP/1.1 {response.status_code} {reason}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in ("connection", "content-length")]
        head.append(f"Content-Length: {len(body)}")
        gunicorn.util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    gunicorn.util.write_error = write_error
