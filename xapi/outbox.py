"""The transactional outbox: each social action's statement, queued in the action's transaction.

:func:`record` is subscribed to the core's social actions (:mod:`plugin.events`). It builds the
statement with tincan, checks it against xAPI 1.0.3 and adds it to ``xapi_outbox`` in the same
session, so the statement exists exactly when the action committed. Nothing is sent here: the
worker (:mod:`xapi.delivery`) sends the stored JSON later, unchanged, so a resend is idempotent.

Records that change (a rating, a comment, a follow) keep one *live* statement per subject
(``"comment:12"``). An edit voids the live one and queues the new one; a deletion voids it.
Erasure on request deletes the learner's statements not yet sent and voids those already sent,
with Word of Mouth as the voiding actor.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from flask import Flask
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from tincan import Activity, Statement, StatementRef

from plugin.db import utcnow
from plugin.events import ActionKind, SocialAction, subscribe
from plugin.models import (
    Item,
    Learner,
    LrsSettings,
    OutboxStatement,
    OutboxStatus,
    Placement,
    Platform,
)
from plugin.settings import Settings
from xapi import statements as build
from xapi import vocabulary as v
from xapi.validation import validate


def pseudonym_key(secret_key: str) -> bytes:
    """The key of pseudonymous actor names, derived from ``WOM_SECRET_KEY`` (rotating it renames everyone)."""
    return hmac.new(secret_key.encode(), b"wordofmouth xapi pseudonym", hashlib.sha256).digest()


def options_for(session: Session, settings: Settings, platform_id: int) -> build.Options:
    chosen = session.get(LrsSettings, platform_id)
    key = pseudonym_key(settings.secret_key)
    if chosen is None:
        return build.Options(base_url=settings.base_url, pseudonym_key=key)
    return build.Options(
        base_url=settings.base_url,
        pseudonym_key=key,
        actor_identity=chosen.actor_identity,
        activity_iri_template=chosen.activity_iri_template,
    )


def _scene(session: Session, settings: Settings, action: SocialAction) -> build.Scene:
    who = action.actor
    learner = session.get(Learner, who.learner_id)
    platform = session.get(Platform, who.platform_id)
    if learner is None or platform is None or learner.platform_id != platform.id:
        raise LookupError(f"no learner {who.learner_id} on platform {who.platform_id}")
    item = session.get(Item, who.item_id) if who.item_id else None
    placement = session.get(Placement, who.placement_id) if who.placement_id is not None else None
    if placement is not None and placement.platform_id != platform.id:
        placement = None
    return build.Scene(
        platform=platform,
        learner=learner,
        item=item,
        placement=placement,
        deployment_id=who.deployment_id,
        options=options_for(session, settings, platform.id),
    )


def live_statement_id(session: Session, platform_id: int, subject: str) -> str | None:
    """The statement id that currently speaks for ``subject``, if one was queued."""
    return session.scalar(
        select(OutboxStatement.statement_id)
        .where(
            OutboxStatement.platform_id == platform_id,
            OutboxStatement.subject == subject,
            OutboxStatement.current.is_(True),
        )
        .order_by(OutboxStatement.id.desc())
        .limit(1)
    )


def enqueue(
    session: Session,
    platform_id: int,
    statement: Statement,
    *,
    learner_id: int | None,
    subject: str | None = None,
    current: bool = True,
) -> OutboxStatement:
    """Check ``statement`` and add it to the outbox in the caller's transaction."""
    document: dict[str, Any] = statement.as_version(v.VERSION)
    validate(document)
    row = OutboxStatement(
        platform_id=platform_id,
        learner_id=learner_id,
        statement_id=document["id"],
        verb=document["verb"]["id"],
        subject=subject,
        current=current and subject is not None,
        statement=document,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    return row


def void_subject(session: Session, scene_actor: Any, platform_id: int, subject: str, at: datetime) -> int:
    """Void every live statement of ``subject``; how many were voided."""
    targets = list(
        session.scalars(
            select(OutboxStatement).where(
                OutboxStatement.platform_id == platform_id,
                OutboxStatement.subject == subject,
                OutboxStatement.current.is_(True),
            )
        )
    )
    for target in targets:
        target.current = False
        voiding = build.voided(scene_actor, _new_id(), at, target.statement_id)
        enqueue(session, platform_id, voiding, learner_id=target.learner_id, current=False)
    return len(targets)


def _new_id() -> str:
    return str(uuid.uuid4())


def _erase(session: Session, settings: Settings, action: SocialAction) -> None:
    """The learner's statements leave the outbox; those the LRS may hold are voided by the tool.

    A statement is in the LRS (or on its way) once delivered or claimed by a worker; pending and
    failed ones never arrived and simply go. The voiding statements name only the statement ids.
    """
    pid, lid = action.actor.platform_id, action.actor.learner_id
    mine = (OutboxStatement.platform_id == pid, OutboxStatement.learner_id == lid)
    sent = list(
        session.scalars(
            select(OutboxStatement.statement_id)
            .where(
                *mine,
                OutboxStatement.verb != v.VOIDED.iri,
                or_(OutboxStatement.status == OutboxStatus.DELIVERED, OutboxStatement.claimed_until.is_not(None)),
            )
            .order_by(OutboxStatement.id)
        )
    )
    session.execute(delete(OutboxStatement).where(*mine))
    tool = build.tool_agent(options_for(session, settings, pid))
    for target in sent:
        enqueue(session, pid, build.voided(tool, _new_id(), action.at, target), learner_id=None, current=False)
    session.flush()


def record(settings: Settings, session: Session, action: SocialAction) -> None:
    """Queue the statement(s) of ``action``: the subscriber the xAPI adapter registers."""
    kind = action.kind
    if kind is ActionKind.ERASED:
        _erase(session, settings, action)
        return
    pid = action.actor.platform_id
    if kind is ActionKind.LAUNCHED:
        chosen = session.get(LrsSettings, pid)
        if chosen is None or not chosen.send_launched:
            return  # the LMS usually reports launches itself; per platform, off by default
    scene = _scene(session, settings, action)
    me = build.agent(scene.learner, scene.platform, scene.options)
    at, subject = action.at, action.subject
    queue: Callable[..., OutboxStatement] = partial(enqueue, session, pid, learner_id=scene.learner.id)

    if kind in (
        ActionKind.RATING_REMOVED,
        ActionKind.HELPFUL_VOTE_WITHDRAWN,
        ActionKind.COMMENT_DELETED,
        ActionKind.UNFOLLOWED,
    ):
        if subject:
            void_subject(session, me, pid, subject, at)
        return
    if kind in (ActionKind.RATED, ActionKind.COMMENT_EDITED) and subject:
        void_subject(session, me, pid, subject, at)  # the superseded statement
    statement = _statement_of(session, scene, action)
    queue(statement, subject=subject)


def _statement_of(session: Session, scene: build.Scene, action: SocialAction) -> Statement:
    kind, at, new = action.kind, action.at, _new_id()
    pid = scene.platform.id
    if kind is ActionKind.RATED:
        return build.rated(scene, new, at, action.stars or 0, action.text)
    if kind is ActionKind.VOTED_HELPFUL:
        target_id = live_statement_id(session, pid, action.refers_to or "")
        rating_id = int((action.refers_to or "rating:0").split(":")[1])
        review: StatementRef | Activity = (
            StatementRef(id=uuid.UUID(target_id)) if target_id else build.review_activity(scene, rating_id)
        )
        return build.voted_up(scene, new, at, review)
    if kind in (ActionKind.COMMENTED, ActionKind.COMMENT_EDITED):
        parent_id = live_statement_id(session, pid, action.refers_to) if action.refers_to else None
        if parent_id:
            return build.replied(scene, new, at, parent_id, action.text or "")
        return build.commented(scene, new, at, action.text or "")
    if kind in (ActionKind.FOLLOWED, ActionKind.RECOMMENDED):
        colleague = session.get(Learner, action.colleague_id or 0)
        if colleague is None or colleague.platform_id != pid:
            raise LookupError(f"no colleague {action.colleague_id} on platform {pid}")
        if kind is ActionKind.FOLLOWED:
            return build.followed(scene, new, at, colleague)
        return build.shared(scene, new, at, colleague, action.text)
    if kind is ActionKind.LAUNCHED:
        return build.launched(scene, new, at)
    raise ValueError(f"no statement for {kind}")


def init_app(app: Flask) -> None:
    """Queue a statement for every social action on this app's database sessions."""
    settings: Settings = app.extensions["wordofmouth.settings"]
    subscribe(app.extensions["wordofmouth.sessions"], partial(record, settings))
