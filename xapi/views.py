"""Pages of the xAPI adapter: the project's extension IRIs, and the demo's view of the outbox.

Each extension IRI (``{WOM_BASE_URL}/xapi/extensions/<name>``) answers with what its value means,
so an analyst who meets one in an LRS can look it up. With ``WOM_DEMO`` on, ``/demo/statements``
lists the latest statements in the outbox exactly as they are (or will be) sent.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import func, select

from plugin.models import OutboxStatement
from plugin.problems import problem
from plugin.web import db_session, get_settings
from xapi import vocabulary as v

DEMO_SHOWN = 50


def extension(name: str) -> Response:
    if name not in v.EXTENSIONS:
        return problem(404, "Not Found", f"Word of Mouth defines no xAPI extension named {name!r}.")
    iri = v.extension(get_settings().base_url, name)
    return jsonify(iri=iri, name=name, description=v.EXTENSIONS[name])


def demo_statements() -> Response | str:
    session = db_session()
    shown = min(max(request.args.get("limit", DEMO_SHOWN, type=int) or DEMO_SHOWN, 1), 500)
    latest = list(session.scalars(select(OutboxStatement).order_by(OutboxStatement.id.desc()).limit(shown)))
    counted = session.execute(select(OutboxStatement.status, func.count()).group_by(OutboxStatement.status))
    by_status = {str(status): count for status, count in counted}
    if request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json":
        return jsonify(counts=by_status, statements=[row.statement for row in latest])
    rows = [
        {
            "status": str(row.status),
            "queued": row.created_at,
            "verb": row.verb.rsplit("/", 1)[-1],
            "error": row.last_error,
            "json": json.dumps(row.statement, indent=2, ensure_ascii=False),
        }
        for row in latest
    ]
    settings = get_settings()
    return render_template(
        "xapi/demo_statements.html",
        rows=rows,
        counts=by_status,
        lrs_configured=bool(settings.lrs_endpoint),
        lrs_endpoint=settings.lrs_endpoint,
    )


def init_app(app: Flask) -> None:
    blueprint = Blueprint("xapi", __name__, template_folder="templates")
    blueprint.add_url_rule("/xapi/extensions/<name>", "extension", extension)
    if get_settings(app).demo:
        blueprint.add_url_rule("/demo/statements", "demo_statements", demo_statements)
    app.register_blueprint(blueprint)
