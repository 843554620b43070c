"""Pull: who took which course, from the LMS's own statements in the LRS (``wordofmouth xapi pull``).

An LMS that writes xAPI (Moodle's logstore_xapi, for one) says in the LRS that a learner
*completed* or *launched* a course, whether or not the learner ever opened Word of Mouth. The pull
reads those statements and records each as an :class:`~plugin.models.learning.Enrolment` with
source ``lrs``, so "colleagues who took this" and the recommendations know about them. It runs as
the worker job ``xapi-pull`` every ``WOM_XAPI_PULL_MINUTES``, and :func:`pull` is what the
``wordofmouth xapi pull`` command calls.

Reading (xAPI 1.0.3, part 3, section 2.1.3 "GET Statements"; part 2, section 2.5 "Retrieval of
Statements"):

- Every LRS endpoint in use (a platform's own, or the ``WOM_LRS_*`` default) is read once per run,
  with one query per verb of :data:`xapi.vocabulary.TOOK_VERBS` and per set of credentials used
  with that endpoint (a *stream*): ``GET {endpoint}statements?verb=<iri>&ascending=true&limit=<n>
  &since=<cursor>``. Filtering by verb in the LRS keeps the (many) other statements of the LMS off
  the wire. A statement that targets a matching one (a voiding statement, by the StatementRef
  filter rule) may still come back; it is ignored here like anything else that is not a
  completed/launched statement about an Activity.
- ``more`` is "a relative IRL ... including the full path ... excluding scheme, host, and port":
  it is resolved against the endpoint's origin and followed only there, so the credentials never
  go to another host.
- A run reads at most ``max_pages`` pages per stream. Statements stored in one instant (an LRS
  may give every statement of one POST the same ``stored``; Learning Locker does) are never split
  across runs: after the last allowed page the stream goes on only while the statements share the
  last one's ``stored`` (for at most ``TIE_PAGES`` more pages; an instant bigger than that is
  passed, and ``last_error`` says so, rather than stall the LRS's pull for ever).

The cursor (one :class:`~plugin.models.outbox.LrsCursor` row per endpoint) is the ``since`` of the
next run, as the LRS writes timestamps. ``since`` is exclusive, so a cursor may only be an instant
through which every statement has been processed. Each stream offers the latest such instant:

- a stream read to its end: just before the ``X-Experience-API-Consistent-Through`` of its first
  answer (one millisecond before, since the header has millisecond precision and a statement stored
  later in that same millisecond would otherwise be skipped for good). The LRS promises that
  every statement stored before that instant was visible to the query; statements stored after it
  may still appear with earlier ``stored`` times, so they are read again next time;
- a stream cut short (page limit, an error): the ``stored`` time of its last processed statement,
  never later than that bound. After an error, statements sharing the last ``stored`` may not all
  have been read, so the cursor stays before that instant.

The endpoint's cursor becomes the earliest of its streams' offers (so a verb with nothing new, or
a second set of credentials on the same server, never lets another stream skip ahead), only ever
moves forward, and is written in the same transaction as the enrolments it covers: a crash before the commit leaves the
old cursor and no rows; reading a statement twice changes nothing (the pull is idempotent).

Matching a statement to a learner and an item:

- the actor is an Agent with an ``account``: ``homePage`` is a platform's issuer (a trailing slash
  ignored) and ``name`` is the learner's LTI ``sub``, as Moodle's logstore_xapi writes it (Moodle's
  LTI ``sub`` and the account name are both the user id);
- the object is an Activity whose id is one of that platform's course IRIs: the platform's
  ``activity_iri_template`` (e.g. ``{issuer}/course/view.php?id={context_id}``) turned into a
  pattern that gives back the context id (:func:`template_pattern`, the inverse of
  :func:`xapi.statements.fill_template`), or our own default IRI
  ``{WOM_BASE_URL}/xapi/activities/course/{item id}``. A context id names the platform's items of
  that course: the context item and any catalogue item last launched from it;
- statements Word of Mouth wrote itself (``context.platform`` "Word of Mouth") are skipped, and so
  is anything malformed; the LRS does not return voided statements.

Learners the LMS names but Word of Mouth has not seen yet are created (``sub`` from the account,
the name from the actor's ``name`` while the learner has none), like the NRPS roster does: the
account's ``homePage`` must equal the platform's issuer and the course must be a known item of that
platform, so the identity is exactly the one a launch would give. When several registrations share
the issuer (Canvas, or one LMS registered twice) and the learner is known on none of them, the
statement is skipped rather than guessed. A new enrolment takes its roles and staff flag from the
course roster when the learner is listed there (so an instructor's "launched" is not counted as
taking the course), else no roles and not staff. An existing enrolment keeps its source, roles and
first time; ``last_seen`` moves to the statement's time when that is later.

Errors never escape the job: an LRS that cannot be reached or answers badly is written to the
cursor's ``last_error`` (without credentials), the statements read before the failure are kept,
and the other endpoints go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import requests
from flask import Flask
from requests.adapters import HTTPAdapter
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import Enrolment, Item, Learner, LrsCursor, LrsSettings, Platform, RosterMember
from plugin.models.learning import EnrolmentSource, ItemSource
from plugin.settings import Settings
from plugin.web import get_settings
from plugin.worker import register_job
from xapi import vocabulary as v
from xapi.lrs import Lrs, resolve_all
from xapi.transport import CONNECT_TIMEOUT, DEADLINE, READ_TIMEOUT, USER_AGENT, XAPI_VERSION

log = logging.getLogger("wordofmouth.xapi")

JOB_NAME = "xapi-pull"
PAGE_SIZE = 200  # statements per page (the LRS may answer fewer)
MAX_PAGES = 25  # pages per stream and run: at most 5,000 statements of each verb per run
TIE_PAGES = 200  # further pages allowed only to finish the statements of one stored instant
PAGE_MAX_BYTES = 32 * 1024 * 1024
ERROR_MAX_LENGTH = 1000
CURSOR_KEY_MAX_LENGTH = 1024  # lrs_cursor.endpoint
LEARNER_NAME_MAX_LENGTH = 255
_CHUNK = 500
_ONE_MS = timedelta(milliseconds=1)


# -- timestamps ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Stamp:
    """An instant and the text it came as; compared by the instant only."""

    at: datetime
    text: str = field(compare=False)


# No statement at all is known to be read: the cursor must not move.
NOTHING_SAFE = Stamp(datetime.min.replace(tzinfo=UTC), "")


def parse_time(text: object) -> datetime | None:
    """An ISO 8601 timestamp with a time zone (``...Z``, ``...+02:00``, any fraction), in UTC; else None."""
    if not isinstance(text, str) or not 10 <= len(text) <= 64:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return at.astimezone(UTC)


def format_time(at: datetime) -> str:
    """``2026-03-02T09:00:00.123Z``: the form LRSs write ``stored`` in, cut to the millisecond.

    Some LRSs (Learning Locker's memory store) compare ``since`` with ``stored`` as text, so the
    cursor must look like their own timestamps.
    """
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def stamp(text: object) -> Stamp | None:
    at = parse_time(text)
    return Stamp(at, str(text).strip()) if at is not None else None


def stream_limit(
    stored: Sequence[Stamp], *, complete: bool, clean: bool, consistent_through: Stamp | None
) -> Stamp | None:
    """The latest ``since`` after which nothing of one stream is left unread; None when the stream
    does not limit the cursor (read to its end, no header, nothing in it).

    ``stored``: the processed statements' ``stored`` times, in the order read (ascending).
    ``complete``: the stream was read to its end. ``clean``: it stopped at a page limit where the
    next statement had a later ``stored`` time than the last processed one. Otherwise it stopped
    without knowing what comes next (an error, or an endless run of one instant).
    """
    bound = None
    if consistent_through is not None:
        before = consistent_through.at - _ONE_MS
        bound = Stamp(before, format_time(before))
    if complete:
        return bound if bound is not None else (max(stored) if stored else None)
    if not stored:
        return NOTHING_SAFE
    last = max(stored)
    if clean:
        limit = last
    else:
        # Statements stored in the last instant may not all have been read: stay before it.
        earlier = [s for s in stored if s < last]
        limit = max(earlier) if earlier else NOTHING_SAFE
    return min(limit, bound) if bound is not None else limit


def cursor_after(old: str | None, limits: Iterable[Stamp | None]) -> str | None:
    """The cursor after a run: the earliest limit of the streams, if it is later than ``old``; else ``old``."""
    known = [limit for limit in limits if limit is not None]
    if not known:
        return old
    new = min(known)
    previous = parse_time(old)
    if new.at == NOTHING_SAFE.at or (previous is not None and new.at <= previous):
        return old
    return new.text


# -- course IRIs --------------------------------------------------------------------------------

# What a context id can look like in an IRI: as fill_template writes it (percent-encoded) or as an
# LMS may write it raw; never a path, query or fragment delimiter.
_CONTEXT_ID = r"[^/?#&\s]+"


def template_pattern(template: str, issuer: str) -> re.Pattern[str] | None:
    """The inverse of :func:`xapi.statements.fill_template` for one platform: a pattern matching the
    platform's course IRIs whose group ``context_id`` is the (encoded) context id. None when the
    template has no ``{context_id}`` (it cannot tell courses apart)."""
    if not template or "{context_id}" not in template:
        return None
    home = issuer.rstrip("/")
    parts = [re.escape(part.replace("{issuer}", home)) for part in template.split("{context_id}")]
    regex = parts[0]
    for index, part in enumerate(parts[1:]):
        regex += (f"(?P<context_id>{_CONTEXT_ID})" if index == 0 else "(?P=context_id)") + part
    return re.compile(regex)


def context_id_of(iri: str, pattern: re.Pattern[str] | None) -> str | None:
    """The context id in a course IRI made by the platform's template, decoded; None if it is not one."""
    if pattern is None:
        return None
    match = pattern.fullmatch(iri)
    if match is None:
        return None
    context_id = unquote(match.group("context_id"))
    return context_id if context_id and len(context_id) <= 255 else None


def default_pattern(base_url: str) -> re.Pattern[str]:
    """Our own course IRIs, ``{WOM_BASE_URL}/xapi/activities/course/{item id}`` (statements.default_activity_iri)."""
    return re.compile(re.escape(base_url.rstrip("/")) + r"/xapi/activities/course/(?P<item_id>[1-9][0-9]{0,17})")


def item_id_of(iri: str, pattern: re.Pattern[str]) -> int | None:
    match = pattern.fullmatch(iri)
    return int(match.group("item_id")) if match else None


# -- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Took:
    """What one statement says, when it says that someone took a course."""

    home_page: str  # the actor's account homePage, without a trailing slash
    sub: str  # the actor's account name
    actor_name: str | None
    activity_id: str
    at: datetime  # when it happened: its timestamp, never later than when the LRS stored it


def took(statement: object) -> Took | None:
    """The facts of a completed/launched statement about an Activity by an account; None for
    anything else: other verbs, voiding, Word of Mouth's own statements, malformed data."""
    if not isinstance(statement, Mapping):
        return None
    verb = statement.get("verb")
    if not isinstance(verb, Mapping) or verb.get("id") not in v.TOOK_VERBS:
        return None
    context = statement.get("context")
    if context is not None and not isinstance(context, Mapping):
        return None
    if isinstance(context, Mapping) and context.get("platform") == v.PLATFORM_NAME:
        return None
    actor = statement.get("actor")
    if not isinstance(actor, Mapping) or actor.get("objectType", "Agent") != "Agent":
        return None
    account = actor.get("account")
    if not isinstance(account, Mapping):
        return None
    home_page, sub = account.get("homePage"), account.get("name")
    if not (isinstance(home_page, str) and home_page.strip() and isinstance(sub, str) and sub.strip()):
        return None
    if len(sub) > 255:
        return None
    target = statement.get("object")
    if not isinstance(target, Mapping) or target.get("objectType", "Activity") != "Activity":
        return None
    activity_id = target.get("id")
    if not isinstance(activity_id, str) or not activity_id or len(activity_id) > 4096:
        return None
    stored = parse_time(statement.get("stored"))
    if stored is None:
        return None
    happened = parse_time(statement.get("timestamp"))
    name = actor.get("name")
    return Took(
        home_page=home_page.strip().rstrip("/"),
        sub=sub,
        actor_name=name.strip()[:LEARNER_NAME_MAX_LENGTH] if isinstance(name, str) and name.strip() else None,
        activity_id=activity_id,
        at=min(happened, stored) if happened is not None else stored,
    )


# -- reading an LRS -----------------------------------------------------------------------------


class LrsReadError(Exception):
    """One line about why a page could not be read; never holds credentials."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Page:
    statements: list[Any]
    more: str
    consistent_through: Stamp | None


class LrsReader:
    """GET statement pages from one LRS over one kept-alive session, with the transport's timeouts
    and version header. ``with LrsReader(lrs) as reader: reader.page(url)``."""

    def __init__(
        self,
        lrs: Lrs,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        deadline: float = DEADLINE,
    ) -> None:
        self.lrs = lrs
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        parts = urlsplit(lrs.endpoint)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._session = requests.Session()
        self._session.headers.update(
            {"X-Experience-API-Version": XAPI_VERSION, "Accept": "application/json", "User-Agent": USER_AGENT}
        )
        if lrs.username or lrs.password:
            self._session.auth = (lrs.username, lrs.password)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __enter__(self) -> LrsReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._session.close()

    def first_url(self, verb: str, since: str | None, limit: int) -> str:
        query = {"verb": verb, "ascending": "true", "limit": str(limit)}
        if since:
            query["since"] = since
        return f"{self.lrs.statements_url}?{urlencode(query)}"

    def more_url(self, more: str) -> str:
        """The next page: ``more`` is a path on the LRS's origin (part 2, 2.5); never another host."""
        url = urljoin(self.origin + "/", more)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            raise LrsReadError(f"the LRS's more link leads to another origin ({parts.scheme}://{parts.hostname})")
        return url

    def page(self, url: str) -> Page:
        started = time.monotonic()
        where = self.lrs.endpoint
        try:
            response = self._session.get(url, timeout=self.timeout, stream=True, allow_redirects=False)
            try:
                content = self._read(response, started)
            finally:
                response.close()
        except _TooSlowError:
            raise LrsReadError(f"no complete answer from {where} within {self.deadline:g} s") from None
        except requests.ConnectTimeout:
            raise LrsReadError(f"cannot connect to {where} within {self.timeout[0]:g} s") from None
        except requests.Timeout:
            raise LrsReadError(f"no answer from {where} for {self.timeout[1]:g} s") from None
        except requests.ConnectionError as exc:
            raise LrsReadError(self._scrub(f"cannot connect to {where}: {_cause(exc)}")) from None
        except requests.RequestException as exc:
            raise LrsReadError(f"reading {where} failed: {exc.__class__.__name__}") from None
        if response.status_code != 200:
            raise LrsReadError(self._scrub(f"GET statements from {where} answered {_status(response, content)}"))
        body = _json(content)
        statements = body.get("statements") if isinstance(body, dict) else None
        more = body.get("more") if isinstance(body, dict) else None
        if not isinstance(statements, list) or not (more is None or isinstance(more, str)):
            raise LrsReadError(f"GET statements from {where} answered 200 without a StatementResult")
        return Page(
            statements=statements,
            more=(more or "").strip(),
            consistent_through=stamp(response.headers.get("X-Experience-API-Consistent-Through")),
        )

    def _read(self, response: requests.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65536):
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() - started > self.deadline:
                raise _TooSlowError
            if size > PAGE_MAX_BYTES:
                raise LrsReadError(f"a page from {self.lrs.endpoint} is larger than {PAGE_MAX_BYTES} bytes")
        return b"".join(chunks)

    def _scrub(self, text: str) -> str:
        text = " ".join(text.split())
        if self.lrs.password:
            for secret in (self.lrs.password, self.lrs.username):
                if secret and len(secret) >= 3:
                    text = text.replace(secret, "***")
        return text[:ERROR_MAX_LENGTH]


class _TooSlowError(Exception):
    pass


def _cause(exc: BaseException) -> str:
    seen = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    text = str(seen) or seen.__class__.__name__
    match = re.search(r"\[Errno -?\d+\] ([^')\"]+)", text)
    return match.group(1).strip() if match else text.splitlines()[0][:300]


def _status(response: requests.Response, content: bytes) -> str:
    """``401 Unauthorized: <the LRS's message and warnings>``, one line."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = "HTTP error"
    words: list[object] = []
    body = _json(content)
    if isinstance(body, dict):
        words.append(body.get("message") or body.get("error"))
        if isinstance(body.get("warnings"), list):
            words.extend(body["warnings"])
    detail = "; ".join(str(w) for w in words if w)[:300]
    return f"{response.status_code} {phrase}" + (f": {detail}" if detail else "")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


@dataclass
class StreamRead:
    """One stream of one run: the statements processed, in order, and how far that is safe."""

    statements: list[Any]
    limit: Stamp | None
    pages: int
    error: str | None = None
    note: str | None = None


def read_stream(
    reader: LrsReader, verb: str, since: str | None, page_size: int, max_pages: int, tie_pages: int = TIE_PAGES
) -> StreamRead:
    """Read one verb's statements stored after ``since``, oldest first, at most ``max_pages`` pages
    (plus the pages that finish the last ``stored`` instant)."""
    processed: list[Any] = []
    stored: list[Stamp] = []
    consistent_through: Stamp | None = None
    pages = 0
    complete = clean = False
    error = note = None
    url = reader.first_url(verb, since, page_size)
    while True:
        try:
            page = reader.page(url)
        except LrsReadError as exc:
            error = exc.reason
            break
        pages += 1
        if pages == 1:
            consistent_through = page.consistent_through
        finishing = pages > max_pages  # only statements of the last instant are still taken
        for statement in page.statements:
            at = stamp(statement.get("stored")) if isinstance(statement, Mapping) else None
            if at is None:
                continue  # an LRS must store a time; a statement without one is skipped
            if finishing and at > stored[-1]:
                clean = True
                break
            processed.append(statement)
            stored.append(at)
        if clean:
            break
        if not page.more:
            complete = True
            break
        if pages >= max_pages:
            if not stored:
                break
            if pages >= max_pages + tie_pages:
                # One instant holds more statements than we may read: go past it rather than stall.
                note = f"statements stored at {stored[-1].text} fill more than {tie_pages} pages: the rest were skipped"
                clean = True
                break
        try:
            url = reader.more_url(page.more)
        except LrsReadError as exc:
            error = exc.reason
            break
    limit = stream_limit(stored, complete=complete, clean=clean, consistent_through=consistent_through)
    return StreamRead(statements=processed, limit=limit, pages=pages, error=error, note=note)


# -- who uses which LRS -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A platform whose statements are in an LRS: its issuer and how its course IRIs look."""

    platform_id: int
    issuer: str  # without a trailing slash
    pattern: re.Pattern[str] | None


@dataclass
class Source:
    """One LRS (endpoint and credentials) and the platforms that use it."""

    lrs: Lrs
    targets: list[Target]


@dataclass
class Plan:
    """One endpoint to read: its cursor key and the credential sets used with it."""

    endpoint: str
    key: str
    sources: list[Source]


def cursor_key(endpoint: str) -> str:
    """The ``lrs_cursor.endpoint`` of an endpoint: itself, or a digest-ended cut when too long."""
    if len(endpoint) <= CURSOR_KEY_MAX_LENGTH:
        return endpoint
    digest = hashlib.sha256(endpoint.encode()).hexdigest()
    return endpoint[: CURSOR_KEY_MAX_LENGTH - len(digest) - 1] + "#" + digest


def plans(session: Session, settings: Settings) -> list[Plan]:
    """Every endpoint in use, with the platforms reading from it, in a stable order."""
    lrs_by_platform = resolve_all(session, settings)
    used = [pid for pid, lrs in lrs_by_platform.items() if lrs is not None]
    if not used:
        return []
    issuers = {pid: issuer for pid, issuer in session.execute(select(Platform.id, Platform.issuer))}
    templates = {
        pid: template
        for pid, template in session.execute(select(LrsSettings.platform_id, LrsSettings.activity_iri_template))
    }
    grouped: dict[str, dict[Lrs, list[Target]]] = defaultdict(dict)
    for pid in used:
        lrs = lrs_by_platform[pid]
        assert lrs is not None
        issuer = issuers[pid].rstrip("/")
        template = templates.get(pid)
        target = Target(pid, issuer, template_pattern(template, issuer) if template else None)
        grouped[lrs.endpoint].setdefault(lrs, []).append(target)
    return [
        Plan(endpoint, cursor_key(endpoint), [Source(lrs, targets) for lrs, targets in sources.items()])
        for endpoint, sources in sorted(grouped.items())
    ]


# -- writing enrolments -------------------------------------------------------------------------


@dataclass
class Applied:
    matched: int = 0
    enrolments_added: int = 0
    learners_added: int = 0


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _items_by_context(session: Session, platform_id: int, context_ids: set[str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for chunk in _chunks(context_ids):
        rows = session.execute(
            select(Item.id, Item.source, Item.key, Item.context_id).where(
                Item.platform_id == platform_id,
                or_(Item.context_id.in_(chunk), (Item.source == ItemSource.CONTEXT) & Item.key.in_(chunk)),
            )
        )
        for item_id, source, key, context_id in rows:
            if context_id in context_ids:
                found[context_id].add(item_id)
            if source == ItemSource.CONTEXT and key in context_ids:
                found[key].add(item_id)
    return found


def _known_item_ids(session: Session, platform_id: int, item_ids: set[int]) -> set[int]:
    known: set[int] = set()
    for chunk in _chunks(item_ids):
        known.update(session.scalars(select(Item.id).where(Item.platform_id == platform_id, Item.id.in_(chunk))))
    return known


def _learners(session: Session, platform_id: int, subs: Iterable[str]) -> dict[str, Learner]:
    found: dict[str, Learner] = {}
    for chunk in _chunks(subs):
        for learner in session.scalars(
            select(Learner).where(Learner.platform_id == platform_id, Learner.sub.in_(chunk))
        ):
            found[learner.sub] = learner
    return found


def _create_learners(session: Session, platform_id: int, names: Mapping[str, str | None]) -> list[Learner]:
    """Insert learners first named by the LMS; one created meanwhile (a launch) is simply read."""
    made = [Learner(platform_id=platform_id, sub=sub, name=name or "") for sub, name in names.items()]
    try:
        with session.begin_nested():
            session.add_all(made)
            session.flush()
        return made
    except IntegrityError:
        pass
    made = []
    for sub, name in names.items():
        try:
            with session.begin_nested():
                learner = Learner(platform_id=platform_id, sub=sub, name=name or "")
                session.add(learner)
                session.flush()
            made.append(learner)
        except IntegrityError:
            continue
    return made


@dataclass
class _Seen:
    first: datetime
    last: datetime


def apply(session: Session, statements: Iterable[Any], targets: Sequence[Target], base_url: str) -> Applied:
    """Record the enrolments ``statements`` show on the platforms of ``targets``; flush, never commit."""
    result = Applied()
    by_issuer: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_issuer[target.issuer].append(target)
    ours = default_pattern(base_url)

    # 1. Pure matching: which platform's course each statement may be about.
    facts: list[tuple[Took, list[tuple[int, str | None, int | None]]]] = []
    context_ids: dict[int, set[str]] = defaultdict(set)
    item_ids: dict[int, set[int]] = defaultdict(set)
    for statement in statements:
        fact = took(statement)
        if fact is None:
            continue
        refs = []
        for target in by_issuer.get(fact.home_page, ()):
            context_id = context_id_of(fact.activity_id, target.pattern)
            item_id = None if context_id is not None else item_id_of(fact.activity_id, ours)
            if context_id is not None:
                context_ids[target.platform_id].add(context_id)
            elif item_id is not None:
                item_ids[target.platform_id].add(item_id)
            else:
                continue
            refs.append((target.platform_id, context_id, item_id))
        if refs:
            facts.append((fact, refs))
    if not facts:
        return result

    # 2. The items those IRIs name, and the learners the accounts name.
    items: dict[tuple[int, str | None, int | None], set[int]] = {}
    for platform_id in context_ids.keys() | item_ids.keys():
        for context_id, ids in _items_by_context(session, platform_id, context_ids.get(platform_id, set())).items():
            items[(platform_id, context_id, None)] = ids
        for item_id in _known_item_ids(session, platform_id, item_ids.get(platform_id, set())):
            items[(platform_id, None, item_id)] = {item_id}
    resolved: list[tuple[Took, dict[int, set[int]]]] = []
    subs: dict[int, set[str]] = defaultdict(set)
    for fact, refs in facts:
        by_platform: dict[int, set[int]] = defaultdict(set)
        for ref in refs:
            by_platform[ref[0]].update(items.get(ref, ()))
        by_platform = {pid: ids for pid, ids in by_platform.items() if ids}
        if by_platform:
            resolved.append((fact, by_platform))
            for pid in by_platform:
                subs[pid].add(fact.sub)
    learners = {pid: _learners(session, pid, platform_subs) for pid, platform_subs in subs.items()}

    # 3. New learners, where the statement names one platform only.
    wanted: dict[int, dict[str, str | None]] = defaultdict(dict)
    for fact, by_platform in resolved:
        known = [pid for pid in by_platform if fact.sub in learners[pid]]
        if not known and len(by_platform) == 1:
            (pid,) = by_platform
            wanted[pid].setdefault(fact.sub, fact.actor_name)
    for pid, names in wanted.items():
        made = _create_learners(session, pid, names)
        result.learners_added += len(made)
        if len(made) < len(names):
            learners[pid] = _learners(session, pid, subs[pid])
        else:
            learners[pid].update({learner.sub: learner for learner in made})

    # 4. One entry per (learner, item), with the first and last time the statements show.
    seen: dict[tuple[int, int, int], _Seen] = {}
    for fact, by_platform in resolved:
        hit = False
        for pid, ids in by_platform.items():
            learner = learners[pid].get(fact.sub)
            if learner is None:
                continue
            if fact.actor_name and not learner.name:
                learner.name = fact.actor_name
            hit = True
            for item_id in ids:
                entry = seen.get((pid, learner.id, item_id))
                if entry is None:
                    seen[(pid, learner.id, item_id)] = _Seen(fact.at, fact.at)
                else:
                    entry.first, entry.last = min(entry.first, fact.at), max(entry.last, fact.at)
        result.matched += hit
    result.enrolments_added = _record_enrolments(session, seen)
    session.flush()
    return result


def _record_enrolments(session: Session, seen: Mapping[tuple[int, int, int], _Seen]) -> int:
    """Insert the new (learner, item) pairs and move ``last_seen`` of existing ones; return how many were new."""
    by_platform: dict[int, set[int]] = defaultdict(set)
    for pid, learner_id, _item_id in seen:
        by_platform[pid].add(learner_id)
    existing: dict[tuple[int, int], Enrolment] = {}
    for pid, learner_ids in by_platform.items():
        for chunk in _chunks(learner_ids):
            for enrolment in session.scalars(
                select(Enrolment).where(Enrolment.platform_id == pid, Enrolment.learner_id.in_(chunk))
            ):
                existing[(enrolment.learner_id, enrolment.item_id)] = enrolment
    new: dict[tuple[int, int, int], _Seen] = {}
    for (pid, learner_id, item_id), entry in seen.items():
        enrolment = existing.get((learner_id, item_id))
        if enrolment is None:
            new[(pid, learner_id, item_id)] = entry
        elif entry.last > enrolment.last_seen:
            enrolment.last_seen = entry.last
    if not new:
        return 0
    roster: dict[tuple[int, int], RosterMember] = {}
    for pid in {key[0] for key in new}:
        learner_ids = {key[1] for key in new if key[0] == pid}
        for chunk in _chunks(learner_ids):
            for member in session.scalars(
                select(RosterMember).where(RosterMember.platform_id == pid, RosterMember.learner_id.in_(chunk))
            ):
                roster[(member.learner_id, member.item_id)] = member

    def row(key: tuple[int, int, int], entry: _Seen) -> Enrolment:
        pid, learner_id, item_id = key
        member = roster.get((learner_id, item_id))
        return Enrolment(
            platform_id=pid,
            learner_id=learner_id,
            item_id=item_id,
            source=EnrolmentSource.LRS,
            roles=list(member.roles) if member is not None else [],
            staff=bool(member is not None and member.staff),
            first_seen=entry.first,
            last_seen=entry.last,
        )

    try:
        with session.begin_nested():
            session.add_all([row(key, entry) for key, entry in new.items()])
            session.flush()
        return len(new)
    except IntegrityError:
        pass
    # Someone (a launch, another worker) enrolled one of them meanwhile: pair by pair.
    added = 0
    for key, entry in new.items():
        try:
            with session.begin_nested():
                session.add(row(key, entry))
                session.flush()
            added += 1
        except IntegrityError:
            enrolment = session.scalars(
                select(Enrolment).where(Enrolment.learner_id == key[1], Enrolment.item_id == key[2])
            ).one_or_none()
            if enrolment is not None and entry.last > enrolment.last_seen:
                enrolment.last_seen = entry.last
    return added


# -- the run ------------------------------------------------------------------------------------


def _cursor(session: Session, key: str) -> LrsCursor:
    """The endpoint's cursor row, locked until the commit on PostgreSQL; made on first use."""
    query = select(LrsCursor).where(LrsCursor.endpoint == key).with_for_update()
    cursor = session.scalars(query).one_or_none()
    if cursor is not None:
        return cursor
    try:
        with session.begin_nested():
            cursor = LrsCursor(endpoint=key, statements=0)
            session.add(cursor)
            session.flush()
        return cursor
    except IntegrityError:
        return session.scalars(query).one()


def _pull_endpoint(
    session: Session, plan: Plan, base_url: str, page_size: int, max_pages: int, counts: dict[str, int]
) -> None:
    since = session.scalar(select(LrsCursor.since).where(LrsCursor.endpoint == plan.key))
    session.rollback()  # no transaction stays open while we wait on the LRS
    if since is not None and parse_time(since) is None:
        log.warning("xapi pull %s: the stored cursor %r is not a timestamp; reading from the start", plan.key, since)
        since = None

    reads: list[tuple[Source, StreamRead]] = []
    for source in plan.sources:
        with LrsReader(source.lrs) as reader:
            for verb in sorted(v.TOOK_VERBS):
                read = read_stream(reader, verb, since, page_size, max_pages)
                reads.append((source, read))
                if read.error is not None:
                    break  # the same LRS will not answer the next verb either

    errors = [read.error for _, read in reads if read.error] + [read.note for _, read in reads if read.note]
    error = "; ".join(dict.fromkeys(e for e in errors if e))[:ERROR_MAX_LENGTH] or None
    read_count = sum(len(read.statements) for _, read in reads)
    limits = [read.limit for _, read in reads]
    if len(reads) < len(plan.sources) * len(v.TOOK_VERBS):
        limits.append(NOTHING_SAFE)  # a stream never read holds the cursor where it is

    now = utcnow()
    cursor = _cursor(session, plan.key)  # locked first: concurrent pulls of one LRS write one after the other
    added = Applied()
    for source, read in reads:
        if read.statements:
            done = apply(session, read.statements, source.targets, base_url)
            added.matched += done.matched
            added.enrolments_added += done.enrolments_added
            added.learners_added += done.learners_added
    cursor.since = cursor_after(cursor.since, limits)
    cursor.pulled_at = now
    cursor.statements = (cursor.statements or 0) + read_count
    cursor.last_error = error
    session.commit()

    counts["read"] += read_count
    counts["matched"] += added.matched
    counts["enrolments_added"] += added.enrolments_added
    counts["learners_added"] += added.learners_added
    if any(read.error for _, read in reads):
        counts["errors"] += 1
        log.warning("xapi pull %s: %s", plan.key, error)
    elif error:
        log.warning("xapi pull %s: %s", plan.key, error)


def _record_error(session: Session, key: str, reason: str) -> None:
    session.rollback()
    try:
        cursor = _cursor(session, key)
        cursor.pulled_at = utcnow()
        cursor.last_error = reason[:ERROR_MAX_LENGTH]
        session.commit()
    except Exception:  # the database itself is in trouble: the log line is all we can leave
        session.rollback()
        log.exception("xapi pull %s: could not record the error", key)


def pull(app: Flask, *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES) -> dict[str, int]:
    """Read every LRS in use and record the enrolments its statements show; returns counts.

    ``read``: statements read; ``matched``: those that named a known course and learner;
    ``enrolments_added``; ``learners_added``; ``errors``: endpoints that could not be read (fully).
    Never raises for an LRS's trouble; each endpoint commits its own rows with its cursor. A
    database that cannot be reached does raise (the worker logs it and tries again next time).
    ``page_size`` and ``max_pages`` bound the work of one run.
    """
    if page_size < 1 or max_pages < 1:
        raise ValueError("page_size and max_pages must be positive")
    settings = get_settings(app)
    counts = {"read": 0, "matched": 0, "enrolments_added": 0, "learners_added": 0, "errors": 0}
    session: Session = app.extensions["wordofmouth.sessions"]()
    try:
        todo = plans(session, settings)
        session.rollback()
        for plan in todo:
            try:
                _pull_endpoint(session, plan, settings.base_url, page_size, max_pages, counts)
            except Exception as exc:  # one LRS's (or its data's) trouble never stops the others
                log.exception("xapi pull %s failed", plan.key)
                counts["errors"] += 1
                _record_error(session, plan.key, f"internal error ({exc.__class__.__name__})")
    finally:
        session.rollback()
        session.close()
    return counts


def init_app(app: Flask) -> None:
    """Register the ``xapi-pull`` worker job, every ``WOM_XAPI_PULL_MINUTES``."""
    minutes = get_settings(app).xapi_pull_minutes
    register_job(app, JOB_NAME, pull, every=timedelta(minutes=minutes))
