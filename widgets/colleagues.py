"""Colleagues who took this, Recommended for you: the JSON API and the fragments' data.

The privacy rules live in :mod:`plugin.services.colleagues`; this module only turns their
results into words (translated, with plural forms) and into API responses.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_babel import gettext, ngettext

from lti.tokens import require_widget_token
from plugin.services import colleagues, recommendations
from plugin.services.recommendations import Reason
from plugin.web import db_session
from widgets import access
from widgets import schemas as s
from widgets.api import ID, bp


def takers_summary(takers: colleagues.Takers) -> str:
    if takers.total is None:
        return gettext("Fewer than 3 colleagues took this")
    return ngettext("%(num)d colleague took this", "%(num)d colleagues took this", takers.total)


def group_summary(takers: colleagues.Takers) -> str | None:
    if takers.in_group is None or not takers.org_group:
        return None
    return ngettext(
        "%(num)d of them in %(group)s", "%(num)d of them in %(group)s", takers.in_group, group=takers.org_group
    )


def reason_text(reason: Reason) -> str:
    """One line saying why, in words, never a score."""
    if reason.kind == "colleague":
        if reason.sender:
            return gettext("Recommended to you by %(name)s", name=reason.sender)
        return gettext("Recommended to you by a colleague")
    if reason.kind == "neighbours" and reason.because_title:
        if reason.count is not None and reason.org_group:
            return ngettext(
                "%(num)d colleague in %(group)s who rated %(course)s 4★ or 5★ also took this",
                "%(num)d colleagues in %(group)s who rated %(course)s 4★ or 5★ also took this",
                reason.count,
                group=reason.org_group,
                course=reason.because_title,
            )
        if reason.count is not None:
            return ngettext(
                "%(num)d colleague who rated %(course)s 4★ or 5★ also took this",
                "%(num)d colleagues who rated %(course)s 4★ or 5★ also took this",
                reason.count,
                course=reason.because_title,
            )
        return gettext("Because you took %(course)s", course=reason.because_title)
    if reason.kind == "trusted":
        return gettext("Liked by colleagues you follow or whose ratings match yours")
    if reason.kind == "group_popular":
        return gettext("Popular in your department")
    if reason.kind == "popular":
        return gettext("Popular in your organisation")
    return gettext("Suggested for you")


def colleague(c: colleagues.Colleague) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "org_group": c.org_group,
        "followed": c.followed,
        "initials": colleagues.initials(c.name),
    }


def people(found: list[colleagues.Colleague]) -> list[dict[str, Any]]:
    """Colleagues with their Follow/Unfollow button: label, API URL and what is announced after it.

    Each text is translated once per list, not once per person (a long list of gettext calls was
    the largest part of rendering this widget).
    """
    texts = {
        True: (gettext("Unfollow"), gettext("You no longer follow %(name)s.")),
        False: (gettext("Follow"), gettext("You follow %(name)s now.")),
    }
    marker = 2147483647
    url = url_for("widgets_api.follow_colleague", colleague_id=marker)
    rows = []
    for c in found:
        label, done = texts[c.followed]
        rows.append(
            {
                **colleague(c),
                "follow_label": label,
                "follow_done": done % {"name": c.name},
                "follow_url": url.replace(str(marker), str(c.id)),
            }
        )
    return rows


def colleagues_context() -> dict[str, Any]:
    """Everything the "Colleagues who took this" fragment shows."""
    actor = access.actor()
    session = db_session()
    takers = colleagues.takers(session, actor)
    query = request.args.get("q")
    results = None
    if query is not None:
        results = [colleague(c) for c in colleagues.search(session, actor, query)]
    return {
        "takers": takers,
        "summary": takers_summary(takers),
        "group_summary": group_summary(takers),
        "named": people(takers.named),
        "also_took": colleagues.also_took(session, actor),
        "privacy": colleagues.privacy_choice(session, actor),
        "following": people(colleagues.following(session, actor)),
        "sent_to": colleagues.recommended_by_actor(session, actor),
        "query": query or "",
        "results": results,
        "params": f"q={query}" if query else "",
    }


def recommendations_context() -> dict[str, Any]:
    items = recommendations.for_learner(db_session(), access.actor())
    return {"items": [_recommended(r) for r in items]}


def _recommended(r: recommendations.Recommended) -> dict[str, Any]:
    return {"title": r.title, "url": r.url, "reason": reason_text(r.reason), "kind": r.reason.kind}


# -- JSON API ---------------------------------------------------------------------------------
@bp.route("/colleagues", methods=["GET"])
@require_widget_token
@bp.response(200, s.TakersOut)
def colleagues_who_took() -> dict[str, Any]:
    """How many colleagues took this item (in all and in your department), those you may see by
    name, and what they also took. Counts under 3 are not given."""
    session = db_session()
    actor = access.actor()
    takers = colleagues.takers(session, actor)
    return {
        "total": takers.total,
        "org_group": takers.org_group,
        "in_group": takers.in_group,
        "named": [colleague(c) for c in takers.named],
        "you_took": takers.you_took,
        "summary": takers_summary(takers),
        "also_took": colleagues.also_took(session, actor),
    }


@bp.route("/colleagues/search", methods=["GET"])
@require_widget_token
@bp.arguments(s.ColleagueSearchArgs, location="query")
@bp.response(200, s.ColleagueListOut)
def search_colleagues(args: dict[str, Any]) -> dict[str, Any]:
    """Colleagues who let colleagues see their name, by part of their name."""
    return {"colleagues": [colleague(c) for c in colleagues.search(db_session(), access.actor(), args["q"])]}


@bp.route(f"/colleagues/<{ID}:colleague_id>/follow", methods=["PUT"])
@require_widget_token
@bp.response(200, s.ColleagueOut)
def follow_colleague(colleague_id: int) -> dict[str, Any]:
    """Follow a colleague: their ratings weigh more in your recommendations."""
    learner = colleagues.follow(db_session(), access.actor(), colleague_id)
    return {"id": learner.id, "name": learner.name, "org_group": learner.org_group, "followed": True}


@bp.route(f"/colleagues/<{ID}:colleague_id>/follow", methods=["DELETE"])
@require_widget_token
@bp.response(204)
def unfollow_colleague(colleague_id: int) -> None:
    """Stop following a colleague."""
    colleagues.unfollow(db_session(), access.actor(), colleague_id)


@bp.route(f"/colleagues/<{ID}:colleague_id>/recommendation", methods=["POST"])
@require_widget_token
@bp.arguments(s.ShareIn)
@bp.response(201, s.ShareOut)
def recommend_to_colleague(data: dict[str, Any], colleague_id: int) -> dict[str, Any]:
    """Recommend this item to a colleague: they see it in their recommendations with your name."""
    sent, recipient = colleagues.recommend_to_colleague(db_session(), access.actor(), colleague_id, data.get("note"))
    return {
        "recipient": {"id": recipient.id, "name": recipient.name, "org_group": recipient.org_group, "followed": False},
        "created_at": sent.created_at,
    }


def _privacy(choice: colleagues.PrivacyChoice) -> dict[str, Any]:
    return {"show_name": choice.shows_name, "choice": choice.choice, "platform_default": choice.platform_default}


@bp.route("/privacy", methods=["GET"])
@require_widget_token
@bp.response(200, s.PrivacyOut)
def get_privacy() -> dict[str, Any]:
    """Whether colleagues see your name as someone who took a course."""
    return _privacy(colleagues.privacy_choice(db_session(), access.actor()))


@bp.route("/privacy", methods=["PUT"])
@require_widget_token
@bp.arguments(s.PrivacyIn)
@bp.response(200, s.PrivacyOut)
def put_privacy(data: dict[str, Any]) -> dict[str, Any]:
    """Choose whether colleagues see your name; you are counted either way."""
    return _privacy(colleagues.set_privacy_choice(db_session(), access.actor(), data["show_name"]))


@bp.route("/recommendations", methods=["GET"])
@require_widget_token
@bp.response(200, s.RecommendationsOut)
def recommended_for_you() -> dict[str, Any]:
    """Items recommended for you, each with its reason in one line."""
    return recommendations_context()
