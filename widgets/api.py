"""The widget JSON API. Every call carries the bearer token handed out at launch."""

from __future__ import annotations

import hashlib

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from lti.tokens import NotAuthorizedError, require_widget_token
from plugin.models import Item, Learner, Placement
from plugin.web import db_session
from widgets.schemas import MeOut

bp = Blueprint("widgets_api", __name__, url_prefix="/api/v1")


def rate_limit_key() -> str:
    """Limit per launch (bearer token), not per address: learners of one office share an address."""
    token = request.headers.get("Authorization", "")
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    return "addr:" + (request.remote_addr or "-")


@bp.get("/me")
@require_widget_token
def me() -> ResponseReturnValue:
    """Who and where this launch is (the placeholder page shows it)."""
    grant = g.grant
    session = db_session()
    learner = session.scalars(
        select(Learner).where(Learner.platform_id == grant.platform_id, Learner.id == grant.learner_id)
    ).one_or_none()
    item = session.scalars(
        select(Item).where(Item.platform_id == grant.platform_id, Item.id == grant.item_id)
    ).one_or_none()
    if learner is None or item is None:
        raise NotAuthorizedError("This access token no longer matches any learner. Reload the page to continue.")
    placement = None
    if grant.placement_id is not None:
        placement = session.scalars(
            select(Placement).where(Placement.platform_id == grant.platform_id, Placement.id == grant.placement_id)
        ).one_or_none()
    return jsonify(MeOut().dump({"learner": learner, "item": item, "placement": placement, "staff": grant.staff}))
