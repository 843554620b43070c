"""Recommended for you: the per-platform build that stores recommendations, and the reads that
serve them to the widget without any matrix work.

The build (``wordofmouth recommend build``, and the worker's ``recommend-build`` job) loads one
platform's interactions (who took what, ratings), its trust edges (follows, helpful votes) and
departments into :class:`plugin.recommend.data.Interactions`, runs the same engine as the offline
``wordofmouth recommend batch`` (:mod:`plugin.recommend.engine`), and replaces the platform's rows
in ``learner_recommendation``, ``item_also_took`` and ``group_popular`` in one transaction.

Incremental where it pays: a platform whose data did not change since its last build (same
fingerprint of counts and latest timestamps) is skipped, so a worker can run the job every few
minutes over thousands of platforms. Builds of different platforms are independent; with several
workers on PostgreSQL each claims a platform with ``FOR UPDATE SKIP LOCKED``.

Reads put what a colleague recommended by name first ("Recommended to you by Ana"), then the
stored ranking, and for a learner the last build did not know, what is popular in their
department, then in the organisation. Items the learner took since the build are left out.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Select, and_, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from plugin.db import utcnow
from plugin.models import (
    ColleagueRecommendation,
    Enrolment,
    Follow,
    GroupPopular,
    Item,
    ItemAlsoTook,
    ItemTakers,
    Learner,
    LearnerRecommendation,
    Platform,
    Rating,
    RecommendBuild,
    ReviewVote,
)
from plugin.services.actors import Actor
from plugin.services.colleagues import PRIVACY_THRESHOLD, course_url

STORED_PER_LEARNER = 10
ALSO_TOOK_PER_ITEM = 10
POPULAR_PER_GROUP = 20
SHOWN = 5
FOLLOW_TRUST = 1.0
HELPFUL_VOTE_TRUST = 0.25
MAX_VOTE_TRUST = 1.0
KIND_NAMES = {1: "neighbours", 2: "trusted", 3: "group_popular", 4: "popular"}


@dataclass(frozen=True)
class Reason:
    """Why an item is recommended, as facts; the widget turns them into one translated line."""

    kind: str  # colleague | neighbours | trusted | group_popular | popular | suggested
    sender: str | None = None
    because_title: str | None = None
    count: int | None = None  # shown only from the privacy threshold up
    org_group: str | None = None  # set when ``count`` is about the learner's department


@dataclass(frozen=True)
class Recommended:
    item_id: int
    title: str
    url: str | None
    reason: Reason


@dataclass(frozen=True)
class BuildResult:
    platform_id: int
    built: bool
    learners: int = 0
    items: int = 0
    interactions: int = 0
    seconds: float = 0.0


# -- reading ----------------------------------------------------------------------------------


def _title(item: Item) -> str:
    return item.title or item.label or item.key


_PLATFORM, _LEARNER = bindparam("platform_id"), bindparam("learner_id")
_ITEM_COLUMNS = (Item.id, Item.title, Item.label, Item.key, Item.url, Item.context_id)


@functools.cache
def _context_statement() -> Select:
    return (
        select(Learner.org_group, Platform.issuer, Platform.course_url_template)
        .join(Platform, Platform.id == Learner.platform_id)
        .where(Learner.platform_id == _PLATFORM, Learner.id == _LEARNER)
    )


@functools.cache
def _taken_statement() -> Select:
    return select(Enrolment.item_id).where(Enrolment.platform_id == _PLATFORM, Enrolment.learner_id == _LEARNER)


@functools.cache
def _sent_statement() -> Select:
    sender = aliased(Learner)
    return (
        select(*_ITEM_COLUMNS, sender.name.label("sender"))
        .join(
            ColleagueRecommendation,
            and_(ColleagueRecommendation.platform_id == Item.platform_id, ColleagueRecommendation.item_id == Item.id),
        )
        .join(
            sender,
            and_(
                sender.platform_id == ColleagueRecommendation.platform_id,
                sender.id == ColleagueRecommendation.sender_id,
            ),
        )
        .where(ColleagueRecommendation.platform_id == _PLATFORM, ColleagueRecommendation.recipient_id == _LEARNER)
        .order_by(ColleagueRecommendation.created_at.desc(), ColleagueRecommendation.id.desc())
        .limit(bindparam("limit"))
    )


@functools.cache
def _stored_statement() -> Select:
    because = aliased(Item)
    return (
        select(
            *_ITEM_COLUMNS,
            LearnerRecommendation.kind,
            LearnerRecommendation.group_count,
            LearnerRecommendation.all_count,
            func.coalesce(func.nullif(because.title, ""), func.nullif(because.label, ""), because.key).label("because"),
        )
        .join(
            Item, and_(Item.platform_id == LearnerRecommendation.platform_id, Item.id == LearnerRecommendation.item_id)
        )
        .outerjoin(
            because,
            and_(
                because.platform_id == LearnerRecommendation.platform_id,
                because.id == LearnerRecommendation.because_item_id,
            ),
        )
        .where(LearnerRecommendation.platform_id == _PLATFORM, LearnerRecommendation.learner_id == _LEARNER)
        .order_by(LearnerRecommendation.rank)
    )


@functools.cache
def _popular_statement() -> Select:
    return (
        select(*_ITEM_COLUMNS, GroupPopular.org_group)
        .join(GroupPopular, and_(GroupPopular.platform_id == Item.platform_id, GroupPopular.item_id == Item.id))
        .where(GroupPopular.platform_id == _PLATFORM, GroupPopular.org_group.in_(bindparam("groups", expanding=True)))
        .order_by(GroupPopular.org_group.desc(), GroupPopular.rank)
    )


def for_learner(session: Session, actor: Actor, limit: int = SHOWN) -> list[Recommended]:
    params = {"platform_id": actor.platform_id, "learner_id": actor.learner_id}
    context = session.execute(_context_statement(), params).one_or_none()
    if context is None:
        return []
    org_group, issuer, template = context
    taken = set(session.scalars(_taken_statement(), params))
    taken.add(actor.item_id)
    chosen: list[Recommended] = []
    seen: set[int] = set()

    def add(row, reason: Reason) -> None:  # type: ignore[no-untyped-def]
        if row.id in taken or row.id in seen or len(chosen) >= limit:
            return
        seen.add(row.id)
        title = row.title or row.label or row.key
        chosen.append(Recommended(row.id, title, course_url(row.url, row.context_id, issuer, template), reason))

    for row in session.execute(_sent_statement(), {**params, "limit": limit + len(taken)}):
        add(row, Reason("colleague", sender=row.sender or None))
    stored = session.execute(_stored_statement(), params).all()
    for row in stored:
        add(row, _stored_reason(row.kind, row.group_count, row.all_count, row.because, org_group))
    if not stored:
        groups = [org_group, ""] if org_group else [""]
        # Departments sort before '' (descending), so the learner's department comes first.
        for row in session.execute(_popular_statement(), {**params, "groups": groups}):
            add(row, Reason("group_popular" if row.org_group else "popular", org_group=row.org_group or None))
    return chosen


def _stored_reason(
    kind: str, group_count: int, all_count: int, because_title: str | None, org_group: str | None
) -> Reason:
    if kind == "neighbours" and because_title:
        if org_group and group_count >= PRIVACY_THRESHOLD:
            return Reason(kind, because_title=because_title, count=group_count, org_group=org_group)
        if all_count >= PRIVACY_THRESHOLD:
            return Reason(kind, because_title=because_title, count=all_count)
        return Reason(kind, because_title=because_title)
    if kind == "trusted":
        return Reason(kind)
    # Popularity is named only when enough colleagues make it: a department of two reveals nothing.
    if org_group and group_count >= PRIVACY_THRESHOLD:
        return Reason("group_popular", org_group=org_group, count=group_count)
    if all_count >= PRIVACY_THRESHOLD:
        return Reason("popular", count=all_count)
    return Reason("suggested")


# -- building ---------------------------------------------------------------------------------


def fingerprint(session: Session, platform_id: int) -> str:
    """Counts and latest timestamps of everything a build reads: equal means nothing changed."""
    parts: list[object] = []
    for statement in (
        select(func.count(), func.max(Enrolment.last_seen)).where(
            Enrolment.platform_id == platform_id, Enrolment.staff.is_(False)
        ),
        select(func.count(), func.max(Rating.updated_at)).where(Rating.platform_id == platform_id),
        select(func.count(), func.max(Follow.created_at)).where(Follow.platform_id == platform_id),
        select(func.count(), func.max(ReviewVote.created_at)).where(ReviewVote.platform_id == platform_id),
        select(func.count(), func.max(Learner.updated_at)).where(Learner.platform_id == platform_id),
    ):
        parts.extend(session.execute(statement).one())
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def claim(session: Session, platform_id: int) -> RecommendBuild | None:
    """The platform's build row, locked for this transaction; None when another worker holds it."""
    if session.get(RecommendBuild, platform_id) is None:
        session.add(RecommendBuild(platform_id=platform_id))
        session.flush()
    statement = select(RecommendBuild).where(RecommendBuild.platform_id == platform_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalars(statement).one_or_none()


def build(session: Session, platform_id: int, *, force: bool = False, now: datetime | None = None) -> BuildResult:
    """Rebuild one platform's stored recommendations when its data changed (or ``force``).

    The caller owns the transaction (and, with several workers, called :func:`claim` in it).
    """
    from plugin.recommend.engine import also_took as engine_also_took
    from plugin.recommend.engine import explain, fit, recommend

    started = time.perf_counter()
    state = session.get(RecommendBuild, platform_id) or RecommendBuild(platform_id=platform_id)
    session.add(state)
    current = fingerprint(session, platform_id)
    if state.fingerprint == current and not force:
        return BuildResult(platform_id, built=False)

    data, learner_ids, item_ids, trust = load_interactions(session, platform_id)
    for table in (LearnerRecommendation, ItemAlsoTook, GroupPopular, ItemTakers):
        session.execute(delete(table).where(table.platform_id == platform_id))

    if len(item_ids) and len(learner_ids):
        popularity = _Popularity(data, len(item_ids))
        model = fit(data, trust=trust, now=(now or utcnow()).timestamp())
        rows: list[dict[str, object]] = []
        for batch in recommend(model, STORED_PER_LEARNER):
            n, k = batch.item.shape
            learners = np.repeat(batch.learner, k)
            flat_items = batch.item.reshape(-1)
            flat_because = batch.because.reshape(-1)
            keep = flat_items >= 0
            explain_mask = keep & (flat_because >= 0)
            group_counts = np.zeros(flat_items.shape, dtype=np.int64)
            all_counts = np.zeros(flat_items.shape, dtype=np.int64)
            if explain_mask.any():
                g, a = explain(model, learners[explain_mask], flat_items[explain_mask], flat_because[explain_mask])
                group_counts[explain_mask] = g
                all_counts[explain_mask] = a
            # The reason shown is a fact about colleagues: "N colleagues (in Sales) who rated X 4★ or 5★
            # also took this" whenever enough of them make it, whichever term weighed most in the score;
            # otherwise the engine's kind, with the item's takers in the department and in all.
            kinds = batch.kind.reshape(-1).copy()
            named = explain_mask & (np.maximum(group_counts, all_counts) >= PRIVACY_THRESHOLD)
            kinds[named] = 1
            # A neighbour without enough colleagues behind it says only "Because you took X".
            unnamed = explain_mask & ~named & (kinds == 1)
            group_counts[unnamed] = 0
            all_counts[unnamed] = 0
            explain_mask = named | unnamed
            popular_mask = keep & ~explain_mask
            if popular_mask.any():
                group_counts[popular_mask] = popularity.in_group(
                    data.learner_group[learners[popular_mask]], flat_items[popular_mask]
                )
                all_counts[popular_mask] = popularity.total[flat_items[popular_mask]]
            ranks = np.tile(np.arange(1, k + 1), n)
            scores = batch.score.reshape(-1)
            for index in np.flatnonzero(keep):
                because_index = int(flat_because[index])
                rows.append(
                    {
                        "platform_id": platform_id,
                        "learner_id": learner_ids[int(learners[index])],
                        "rank": int(ranks[index]),
                        "item_id": item_ids[int(flat_items[index])],
                        "score": float(scores[index]),
                        "kind": KIND_NAMES.get(int(kinds[index]), "popular"),
                        "because_item_id": item_ids[because_index]
                        if because_index >= 0 and explain_mask[index]
                        else None,
                        "group_count": int(group_counts[index]),
                        "all_count": int(all_counts[index]),
                    }
                )
            if len(rows) >= 20_000:
                _insert(session, LearnerRecommendation, rows)
                rows = []
        if rows:
            _insert(session, LearnerRecommendation, rows)
        _store_also_took(session, platform_id, model, engine_also_took(model, ALSO_TOOK_PER_ITEM), item_ids)
        _store_group_popular(session, platform_id, data, item_ids)
        _store_item_takers(session, platform_id, popularity, data.groups, item_ids)

    state.fingerprint = current
    state.built_at = now or utcnow()
    state.learners = len(learner_ids)
    state.items = len(item_ids)
    state.interactions = len(data.learner_idx)
    state.seconds = time.perf_counter() - started
    session.flush()
    return BuildResult(platform_id, True, state.learners, state.items, state.interactions, round(state.seconds, 3))


class _Popularity:
    """How many learners took each item, in all and per department (from the build's arrays)."""

    def __init__(self, data, n_items: int) -> None:  # type: ignore[no-untyped-def]
        self.n_items = n_items
        self.total = np.bincount(data.item_idx, minlength=n_items)
        groups = data.learner_group[data.learner_idx].astype(np.int64)
        keys = groups[groups >= 0] * n_items + data.item_idx[groups >= 0]
        self.keys, self.counts = np.unique(keys, return_counts=True)

    def in_group(self, groups: np.ndarray, items: np.ndarray) -> np.ndarray:
        wanted = groups.astype(np.int64) * self.n_items + items
        position = np.searchsorted(self.keys, wanted)
        position = np.minimum(position, max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return np.zeros(wanted.shape, dtype=np.int64)
        found = (self.keys[position] == wanted) & (groups >= 0)
        return np.where(found, self.counts[position], 0)


def load_interactions(session: Session, platform_id: int):  # type: ignore[no-untyped-def]
    """One platform's data as the engine's arrays: (Interactions, learner ids, item ids, TrustEdges)."""
    from plugin.recommend.data import Interactions, TrustEdges

    learners = session.execute(
        select(Learner.id, Learner.org_group).where(Learner.platform_id == platform_id).order_by(Learner.id)
    ).all()
    learner_ids = [row.id for row in learners]
    learner_index = {learner_id: i for i, learner_id in enumerate(learner_ids)}
    groups = sorted({row.org_group for row in learners if row.org_group})
    group_index = {g: i for i, g in enumerate(groups)}
    learner_group = np.array([group_index.get(row.org_group, -1) for row in learners], dtype=np.int32)

    pairs: dict[tuple[int, int], list[float]] = {}
    for learner_id, item_id, seen in session.execute(
        select(Enrolment.learner_id, Enrolment.item_id, Enrolment.last_seen).where(
            Enrolment.platform_id == platform_id, Enrolment.staff.is_(False)
        )
    ):
        pairs[(learner_index[learner_id], item_id)] = [np.nan, seen.timestamp()]
    for learner_id, item_id, stars, updated in session.execute(
        select(Rating.learner_id, Rating.item_id, Rating.stars, Rating.updated_at).where(
            Rating.platform_id == platform_id
        )
    ):
        key = (learner_index[learner_id], item_id)
        known = pairs.get(key)
        pairs[key] = [float(stars), max(updated.timestamp(), known[1]) if known else updated.timestamp()]
    item_ids = sorted({item_id for _, item_id in pairs})
    item_index = {item_id: j for j, item_id in enumerate(item_ids)}
    keys = sorted(pairs)
    data = Interactions.from_arrays(
        learners=[str(i) for i in learner_ids],
        items=[str(i) for i in item_ids],
        groups=groups,
        learner_group=learner_group,
        learner_idx=np.array([k[0] for k in keys], dtype=np.int32),
        item_idx=np.array([item_index[k[1]] for k in keys], dtype=np.int32),
        rating=np.array([pairs[k][0] for k in keys], dtype=np.float32),
        timestamp=np.array([pairs[k][1] for k in keys], dtype=np.float64),
    )

    weights: dict[tuple[int, int], float] = defaultdict(float)
    for follower, followee in session.execute(
        select(Follow.follower_id, Follow.followee_id).where(Follow.platform_id == platform_id)
    ):
        weights[(learner_index[follower], learner_index[followee])] += FOLLOW_TRUST
    votes: dict[tuple[int, int], float] = defaultdict(float)
    for voter, author in session.execute(
        select(ReviewVote.learner_id, Rating.learner_id)
        .join(Rating, and_(Rating.platform_id == ReviewVote.platform_id, Rating.id == ReviewVote.rating_id))
        .where(ReviewVote.platform_id == platform_id)
    ):
        votes[(learner_index[voter], learner_index[author])] += HELPFUL_VOTE_TRUST
    for pair, weight in votes.items():
        weights[pair] += min(weight, MAX_VOTE_TRUST)
    edges = sorted(weights)
    trust = TrustEdges(
        source=np.array([e[0] for e in edges], dtype=np.int32),
        target=np.array([e[1] for e in edges], dtype=np.int32),
        weight=np.array([weights[e] for e in edges], dtype=np.float32),
    )
    return data, learner_ids, item_ids, trust


def _insert(session: Session, model: type, rows: list[dict[str, object]]) -> None:
    """Plain executemany on the table: the ORM's bulk path costs more than the database here."""
    if rows:
        session.connection().execute(insert(model.__table__), rows)  # type: ignore[attr-defined]


def _raters(model, item: np.ndarray, other: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per pair: how many learners who took ``item`` rated ``other`` (the mean is shown from 3 up)."""
    data = model.data
    rated = data.subset(~np.isnan(data.rating)).matrix().T.tocsr()  # items x learners
    took = model.took.T.tocsr()
    counts = np.zeros(item.size, dtype=np.int64)
    for start in range(0, item.size, 4096):
        chunk = slice(start, start + 4096)
        counts[chunk] = np.asarray(took[item[chunk]].multiply(rated[other[chunk]]).sum(axis=1)).ravel()
    return counts


def _store_also_took(session: Session, platform_id: int, model, result, item_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    rows = []
    rank: dict[int, int] = defaultdict(int)
    raters = _raters(model, result.item, result.other)
    for item, other, takers, mean, rated in zip(
        result.item, result.other, result.takers, result.mean_rating, raters, strict=True
    ):
        if int(takers) <= 0:
            continue
        rank[int(item)] += 1
        rows.append(
            {
                "platform_id": platform_id,
                "item_id": item_ids[int(item)],
                "rank": rank[int(item)],
                "other_item_id": item_ids[int(other)],
                "takers": int(takers),
                "raters": int(rated),
                "mean_rating": None if np.isnan(mean) else float(mean),
            }
        )
    if rows:
        _insert(session, ItemAlsoTook, rows)


def _store_item_takers(
    session: Session, platform_id: int, popularity: _Popularity, groups: list[str], item_ids: list[int]
) -> None:
    """Takers per item, in all ('') and per department, for "N colleagues took this"."""
    rows = [
        {"platform_id": platform_id, "item_id": item_ids[j], "org_group": "", "takers": int(count)}
        for j, count in enumerate(popularity.total)
        if count
    ]
    for key, count in zip(popularity.keys, popularity.counts, strict=True):
        group, item = divmod(int(key), popularity.n_items)
        rows.append(
            {"platform_id": platform_id, "item_id": item_ids[item], "org_group": groups[group], "takers": int(count)}
        )
    for start in range(0, len(rows), 20_000):
        _insert(session, ItemTakers, rows[start : start + 20_000])


def _store_group_popular(session: Session, platform_id: int, data, item_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """The most taken items per department and overall, liked items first among equals."""
    liked = np.where(np.isnan(data.rating), 1.0, (data.rating >= 3).astype(np.float64))
    rows = []
    groups = data.learner_group[data.learner_idx]
    for index, name in [(-2, ""), *enumerate(data.groups)]:
        mask = np.ones(groups.shape, dtype=bool) if index == -2 else groups == index
        if not mask.any():
            continue
        takers = np.bincount(data.item_idx[mask], minlength=len(item_ids))
        likes = np.bincount(data.item_idx[mask], weights=liked[mask], minlength=len(item_ids))
        order = np.lexsort((np.arange(len(item_ids)), -likes, -takers))[:POPULAR_PER_GROUP]
        for rank, j in enumerate(order, start=1):
            if takers[j] < PRIVACY_THRESHOLD:
                break
            rows.append(
                {
                    "platform_id": platform_id,
                    "org_group": name,
                    "rank": rank,
                    "item_id": item_ids[int(j)],
                    "takers": int(takers[j]),
                }
            )
    if rows:
        _insert(session, GroupPopular, rows)


def platforms(session: Session, issuer: str | None = None) -> list[int]:
    statement = select(Platform.id).order_by(Platform.id)
    if issuer:
        statement = statement.where(Platform.issuer == issuer)
    return list(session.scalars(statement))
