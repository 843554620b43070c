"""Server-rendered widget fragments (HTML) for the launched page's small script.

The script asks for a widget's HTML with the bearer token, puts it in the page, and after each
action asks again: one renderer (Jinja, escaped, translated) for every state, and no HTML built
in JavaScript. Errors still come back as problem details, like the rest of ``/api``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from lti.tokens import require_widget_token
from plugin.errors import InvalidFieldError, NotFoundError
from plugin.services import comments, insights, moderation, ratings
from plugin.web import db_session
from widgets import access, colleagues, present

bp = Blueprint(
    "widgets_fragments",
    __name__,
    url_prefix="/api/v1/fragments",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
KINDS = ("ratings", "comments", "colleagues", "recommendations", "moderation")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _html(body: str) -> Response:
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
    if value is None or not low <= value <= high:
        raise InvalidFieldError(name, f"{name} must be a whole number from {low} to {high}.")
    return value


def _ratings_context() -> dict[str, Any]:
    actor = access.actor()
    session = db_session()
    sort = request.args.get("sort", "helpful")
    page_number = _int_arg("page", 1, 1, 100_000)
    summary = ratings.summary(session, actor)
    page = ratings.list_reviews(session, actor, sort, page_number)
    reports = ratings.open_report_counts(session, actor, [r.id for r in page.reviews]) if actor.staff else None
    return {
        "summary": summary,
        "page": present.review_page(page, actor, sort, reports),
        "settings": access.widget_settings(),
        "staff": actor.staff,
    }


def _comments_context() -> dict[str, Any]:
    actor = access.actor()
    order = request.args.get("order", "newest")
    cursor = request.args.get("cursor") or None
    page = comments.list_comments(db_session(), actor, access.thread(), order, cursor)
    return {
        "page": present.comment_page(page, actor),
        "settings": access.widget_settings(),
        "staff": actor.staff,
        "order": order,
    }


def _moderation_context() -> dict[str, Any]:
    actor = access.actor()
    session = db_session()
    return {
        "entries": moderation.queue(session, actor),
        "insights": insights.insights(session, actor),
        "staff": True,
    }


@bp.get("/<kind>")
@require_widget_token
def fragment(kind: str) -> ResponseReturnValue:
    """One widget as HTML: ``ratings``, ``comments``, ``colleagues``, ``recommendations`` or, for
    instructors, ``moderation``."""
    if kind not in KINDS:
        raise NotFoundError(f"There is no widget called {kind!r}.")
    if kind == "moderation":
        moderation.require_staff(access.actor())
        return _html(render_template("widgets/moderation.html", **_moderation_context()))
    if kind == "ratings":
        return _html(render_template("widgets/ratings.html", **_ratings_context()))
    if kind == "colleagues":
        return _html(render_template("widgets/colleagues.html", **colleagues.colleagues_context()))
    if kind == "recommendations":
        return _html(render_template("widgets/recommendations.html", **colleagues.recommendations_context()))
    context = _comments_context()
    if request.args.get("part") == "more":
        return _html(render_template("widgets/comment_items.html", **context))
    return _html(render_template("widgets/comments.html", **context))


@bp.get("/ratings.csv")
@require_widget_token
def ratings_csv() -> ResponseReturnValue:
    """Instructors: every rating of this item as CSV, for reports."""
    rows = insights.rating_rows(db_session(), access.actor())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(insights.CSV_HEADER)
    for row in rows:
        # A leading =, +, -, @, tab or carriage return would make a spreadsheet run the cell as a formula.
        writer.writerow([f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in row])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="ratings.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
