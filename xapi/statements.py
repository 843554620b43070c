"""Statement builders: pure functions from the product's records to ``tincan.Statement``.

Every statement names the learner as the platform configured (:func:`agent`), the course as an
Activity whose IRI lines up with the LMS's own statements (:func:`item_activity`), and carries
the same context: platform "Word of Mouth", the learner's language, the LMS site as grouping
and the LTI ids as extensions. xAPI 1.0.3, part 2, section 2.4 (statement properties).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from tincan import (
    Activity,
    ActivityDefinition,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    LanguageMap,
    Result,
    Score,
    Statement,
    StatementRef,
    Verb,
)

from plugin.models import ActorIdentity, Item, Learner, Placement, Platform
from xapi import vocabulary as v

_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
DEFAULT_LANGUAGE = "en"
TOOL_ACCOUNT = "wordofmouth"


@dataclass(frozen=True)
class Options:
    """How one platform's statements are written (``wordofmouth lrs set``)."""

    base_url: str
    pseudonym_key: bytes
    actor_identity: ActorIdentity = ActorIdentity.ACCOUNT
    activity_iri_template: str | None = None


@dataclass(frozen=True)
class Scene:
    """Who acted, where: everything a statement says besides the action itself."""

    platform: Platform
    learner: Learner
    item: Item | None
    placement: Placement | None
    deployment_id: str | None
    options: Options

    @property
    def language(self) -> str:
        return language_tag(self.learner.locale)


def language_tag(locale: str | None) -> str:
    """An RFC 5646 tag from an LTI locale ("en_US" -> "en-US"); English when there is none."""
    tag = (locale or "").replace("_", "-").strip()
    return tag if _LANGUAGE_TAG.match(tag) else DEFAULT_LANGUAGE


def _verb(verb: v.Verb) -> Verb:
    return Verb(id=verb.iri, display=LanguageMap({"en-US": verb.display}))


def pseudonym(key: bytes, issuer: str, sub: str) -> str:
    """A stable name for the learner that the LRS cannot turn back into the LMS account."""
    return hmac.new(key, f"{issuer}\n{sub}".encode(), hashlib.sha256).hexdigest()[:40]


def agent(learner: Learner, platform: Platform, options: Options) -> Agent:
    """The learner as an xAPI Agent: an LMS account by default, with no name or e-mail.

    ``mbox`` and ``mbox_sha1sum`` fall back to the account when the LMS sent no e-mail.
    """
    identity = options.actor_identity
    if identity is ActorIdentity.MBOX and learner.email:
        return Agent(mbox=f"mailto:{learner.email}")
    if identity is ActorIdentity.MBOX_SHA1SUM and learner.email:
        return Agent(mbox_sha1sum=hashlib.sha1(f"mailto:{learner.email}".encode()).hexdigest())  # noqa: S324 -- the xAPI IFI is SHA-1 by definition
    if identity is ActorIdentity.PSEUDONYMOUS:
        name = pseudonym(options.pseudonym_key, platform.issuer, learner.sub)
        return Agent(account=AgentAccount(home_page=options.base_url, name=name))
    return Agent(account=AgentAccount(home_page=platform.issuer, name=learner.sub))


def tool_agent(options: Options) -> Agent:
    """Word of Mouth itself, the actor of statements no learner made (voiding on erasure)."""
    return Agent(name=v.PLATFORM_NAME, account=AgentAccount(home_page=options.base_url, name=TOOL_ACCOUNT))


def default_activity_iri(base_url: str, item: Item) -> str:
    return f"{base_url.rstrip('/')}/xapi/activities/course/{item.id}"


def activity_iri(item: Item, platform: Platform, options: Options) -> str:
    """The course's IRI: the platform's template when the item is an LMS course, else under the base URL."""
    template = options.activity_iri_template
    if template and item.context_id:
        return fill_template(template, platform.issuer, item.context_id)
    return default_activity_iri(options.base_url, item)


def fill_template(template: str, issuer: str, context_id: str) -> str:
    from urllib.parse import quote

    return template.replace("{issuer}", issuer.rstrip("/")).replace("{context_id}", quote(context_id, safe=""))


def item_activity(scene: Scene) -> Activity:
    item = scene.item
    if item is None:
        raise ValueError("this statement needs the item it is about")
    name = item.title or item.label or item.key
    return Activity(
        id=activity_iri(item, scene.platform, scene.options),
        definition=ActivityDefinition(name=LanguageMap({scene.language: name}), type=v.COURSE),
    )


def site_activity(platform: Platform) -> Activity:
    return Activity(
        id=platform.issuer,
        definition=ActivityDefinition(name=LanguageMap({"en": platform.name or platform.issuer}), type=v.LMS),
    )


def context(scene: Scene, **more: object) -> Context:
    base = scene.options.base_url
    extensions: dict[str, object] = {}
    if scene.deployment_id:
        extensions[v.extension(base, "lti-deployment-id")] = scene.deployment_id
    if scene.item is not None and scene.item.context_id:
        extensions[v.extension(base, "lti-context-id")] = scene.item.context_id
    if scene.placement is not None and scene.placement.resource_link_id:
        extensions[v.extension(base, "lti-resource-link-id")] = scene.placement.resource_link_id
    for name, value in more.items():
        extensions[v.extension(base, name)] = value
    grouping = [site_activity(scene.platform)]
    return Context(
        platform=v.PLATFORM_NAME,
        language=scene.language,
        context_activities=ContextActivities(grouping=grouping),
        extensions=Extensions(extensions) if extensions else None,
    )


def _statement(scene: Scene, statement_id: str, at: datetime, verb: v.Verb, obj: object, **parts: object) -> Statement:
    ctx = parts.pop("context", None) or context(scene)
    if not isinstance(obj, Activity):  # context.platform only when the object is an Activity (2.4.6)
        ctx.platform = None
    return Statement(
        id=uuid.UUID(statement_id),
        actor=agent(scene.learner, scene.platform, scene.options),
        verb=_verb(verb),
        object=obj,
        timestamp=at,
        context=ctx,
        **parts,
    )


def rated(scene: Scene, statement_id: str, at: datetime, stars: int, review: str | None) -> Statement:
    """A rating of 1 to 5 stars; the review text, when written, is the response."""
    score = Score(raw=stars, min=1, max=5, scaled=stars / 5)
    result = Result(score=score, response=review) if review else Result(score=score)
    return _statement(scene, statement_id, at, v.RATED, item_activity(scene), result=result)


def review_activity(scene: Scene, rating_id: int) -> Activity:
    """A review as an Activity, for a vote on a review whose own statement is not known."""
    item = item_activity(scene)
    return Activity(
        id=f"{scene.options.base_url.rstrip('/')}/xapi/activities/review/{rating_id}",
        definition=ActivityDefinition(name=item.definition.name, type=v.REVIEW),
    )


def voted_up(scene: Scene, statement_id: str, at: datetime, review: StatementRef | Activity) -> Statement:
    """A review voted helpful: the object is the review's own "rated" statement."""
    ctx = context(scene)
    ctx.context_activities.parent = [item_activity(scene)]
    return _statement(scene, statement_id, at, v.VOTED_UP, review, context=ctx)


def commented(scene: Scene, statement_id: str, at: datetime, text: str) -> Statement:
    return _statement(scene, statement_id, at, v.COMMENTED, item_activity(scene), result=Result(response=text))


def replied(scene: Scene, statement_id: str, at: datetime, parent_statement_id: str, text: str) -> Statement:
    """A reply: the object is the statement of the comment replied to; the course is the parent."""
    ctx = context(scene)
    ctx.context_activities.parent = [item_activity(scene)]
    ref = StatementRef(id=uuid.UUID(parent_statement_id))
    return _statement(scene, statement_id, at, v.REPLIED, ref, result=Result(response=text), context=ctx)


def followed(scene: Scene, statement_id: str, at: datetime, colleague: Learner) -> Statement:
    """Following a colleague: the object is the colleague, named as the learner is."""
    other = agent(colleague, scene.platform, scene.options)
    return _statement(scene, statement_id, at, v.FOLLOWED, other)


def shared(scene: Scene, statement_id: str, at: datetime, colleague: Learner, note: str | None) -> Statement:
    """A course recommended to a colleague, who is in the ``recipient`` extension."""
    recipient = agent(colleague, scene.platform, scene.options).as_version(v.VERSION)
    ctx = context(scene, recipient=recipient)
    result = Result(response=note) if note else None
    return _statement(scene, statement_id, at, v.SHARED, item_activity(scene), result=result, context=ctx)


def launched(scene: Scene, statement_id: str, at: datetime) -> Statement:
    return _statement(scene, statement_id, at, v.LAUNCHED, item_activity(scene))


def voided(actor: Agent, statement_id: str, at: datetime, target_statement_id: str) -> Statement:
    """Withdraw an earlier statement (xAPI 1.0.3, part 2, section 2.3.2: voided statements)."""
    return Statement(
        id=uuid.UUID(statement_id),
        actor=actor,
        verb=_verb(v.VOIDED),
        object=StatementRef(id=uuid.UUID(target_statement_id)),
        timestamp=at,
    )
