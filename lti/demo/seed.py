"""Lived-in demo data: an organisation whose people took, rated, reviewed and discussed its courses.

The demo LMS's people (Ada, Grace, ...) and a few named colleagues wrote the reviews and comments
below. Around them, a few hundred colleagues in eight departments have a history over the demo
courses and a wider catalogue, drawn at a small size from the synthetic corporate data generator
(:mod:`plugin.recommend.synthetic`, one fixed seed): who took what and when, and their ratings.
About half of them let colleagues see their name; some follow colleagues, and two recommended a
course to Ada. Then the recommendations are built, so "Colleagues who took this" and "Recommended
for you" show real counts and reasons.

Everything goes through the same core services a real launch and the widget API use (learners,
enrolments, ratings, votes, comments, moderation, follows, privacy choices, recommendations to a
colleague), so `make run` shows the product as it is. Seeding runs once per database: it does
nothing when the demo platform already has ratings.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti.demo import platform as demo
from plugin.db import utcnow
from plugin.models import Item, Learner, Rating
from plugin.recommend import synthetic
from plugin.services import colleagues, comments, launches, moderation, ratings, recommendations
from plugin.services.actors import Actor, Thread


@dataclass(frozen=True)
class Colleague:
    id: str
    name: str
    department: str
    instructor: bool = False


# Colleagues who used the courses before; they exist in the data but do not log in to the demo.
COLLEAGUES = (
    Colleague("mary", "Mary Jackson", "Engineering"),
    Colleague("dorothy", "Dorothy Vaughan", "Engineering"),
    Colleague("edsger", "Edsger Dijkstra", "Research"),
    Colleague("barbara", "Barbara Liskov", "Research"),
    Colleague("tim", "Tim Berners-Lee", "Sales"),
    Colleague("radia", "Radia Perlman", "Operations"),
    Colleague("ken", "Ken Thompson", "Operations"),
    Colleague("frances", "Frances Allen", "Sales"),
)

# course id -> (person id, stars, review or None, days ago)
RATINGS: dict[str, list[tuple[str, int, str | None, int]]] = {
    "safety": [
        ("grace", 5, "Short, practical and the fire-drill video is worth it alone. Took me 40 minutes.", 3),
        ("mary", 4, "Good refresher. The quiz at the end is a bit picky about wording.", 20),
        ("dorothy", 4, None, 35),
        ("edsger", 3, "Covers the basics. I wished it said more about lab safety:\nsee https://osha.gov for more.", 60),
        ("tim", 5, "Clear and to the point. Everyone on the sales floor should take it.", 90),
        ("radia", 4, None, 120),
        ("ken", 2, "Too long for what it teaches; skim the slides instead.", 150),
        ("jonas", 4, "Kurz und praktisch. Die Checkliste am Ende hängt jetzt an meinem Monitor.", 15),
    ],
    "python": [
        ("ada", 5, "The pandas chapter finally made group-by click for me. Do the exercises!", 5),
        ("alan", 4, "Solid. Skip week 1 if you already know loops and functions.", 12),
        ("barbara", 5, "Best internal course I have taken. The instructor answers questions in the comments.", 40),
        ("mary", 4, "Great exercises; the last project takes a full afternoon.", 70),
        ("frances", 3, "Fine, but assumes more maths than it says.", 100),
        ("camille", 4, "Très clair, et les exercices sont bien pensés. Prévoyez une après-midi pour le projet.", 25),
    ],
    "leading": [
        ("katherine", 5, "Changed how I run one-on-ones. The feedback framework is simple and it works.", 8),
        ("tim", 4, "Useful role plays. Bring a real situation from your team.", 45),
        ("radia", 4, None, 75),
    ],
}
VOTES = {  # course id -> (voter, author of the review)
    "safety": [("ada", "grace"), ("mary", "grace"), ("radia", "tim"), ("alan", "grace"), ("ken", "mary")],
    "python": [("grace", "ada"), ("mary", "ada"), ("katherine", "barbara"), ("alan", "barbara")],
    "leading": [("ada", "katherine"), ("alan", "katherine")],
}
# course id -> (author, text, days ago, replies [(author, text, days ago)], pinned by the instructor)
COMMENTS: dict[str, list[tuple[str, str, int, list[tuple[str, str, int]], bool]]] = {
    "safety": [
        (
            "mary",
            "Does the certificate count for the yearly compliance report?",
            9,
            [("ines", "Yes: it goes to HR automatically once you pass the quiz.", 8)],
            True,
        ),
        (
            "edsger",
            "Is there a version of this for the lab building?",
            30,
            [("grace", "Ask facilities, they have a lab annex to this course.", 29)],
            False,
        ),
    ],
    "python": [
        (
            "alan",
            "Which Python version do the notebooks use?",
            14,
            [
                ("ines", "3.12. Older versions work except for the last exercise.", 13),
                ("ada", "I used 3.11 and only had to change one import.", 12),
            ],
            True,
        ),
        ("barbara", "If you get stuck on exercise 4, re-read the part about merge vs join.", 50, [], False),
    ],
    "leading": [
        (
            "tim",
            "Anyone want to pair up for the role-play homework?",
            6,
            [("katherine", "Me! I am free Thursday afternoons.", 5)],
            False,
        ),
    ],
}


# -- the wider organisation, drawn from the synthetic generator -----------------------------------
SEED = 7
SYNTHETIC_PEOPLE = 300
DEPARTMENTS = (  # largest first
    "Engineering", "Sales", "Operations", "Research", "Customer Care", "Finance", "Marketing",
    "Learning & Development",
)  # fmt: skip
NAMED_SHARE = 0.5  # about half of the colleagues let colleagues see their name
FIRST_NAMES = (
    "Aisha", "Akira", "Alejandro", "Amara", "Anders", "Ana", "Arjun", "Beatriz", "Bilal", "Chen", "Chiara",
    "Daniel", "Dmitri", "Elena", "Emeka", "Emma", "Fatima", "Felix", "Freya", "Gabriel", "Hana", "Hugo",
    "Ibrahim", "Ingrid", "Isabel", "Jakub", "Jamal", "Javier", "Julia", "Kai", "Karin", "Kofi", "Lars", "Laura",
    "Leila", "Liam", "Lucia", "Luis", "Maja", "Marco", "Maria", "Mateo", "Mei", "Mohammed", "Nadia", "Nikolai",
    "Nina", "Noah", "Olga", "Omar", "Oskar", "Paula", "Priya", "Rafael", "Rania", "Ravi", "Rosa", "Samir",
    "Sara", "Sofia", "Sven", "Tariq", "Thomas", "Valentina", "Wei", "Yara", "Yusuf", "Zara", "Zofia", "Tomasz",
)  # fmt: skip
FAMILY_NAMES = (
    "Ahmed", "Andersen", "Bauer", "Bianchi", "Costa", "Dubois", "Eriksson", "Fernandes", "Fischer", "García",
    "Gonzalez", "Haddad", "Hansen", "Ito", "Jansen", "Kamau", "Kim", "Kowalski", "Kumar", "Larsen", "Lefebvre",
    "Li", "Lopez", "Mensah", "Meyer", "Moreau", "Müller", "Nakamura", "Nguyen", "Novak", "Nowak", "Okafor",
    "Olsen", "Patel", "Pereira", "Petrov", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Sousa", "Suzuki",
    "Tanaka", "Torres", "Van Dijk", "Wagner", "Wang", "Weber", "Yilmaz", "Zhang", "O'Brien", "Murphy", "Haug",
)  # fmt: skip
RECOMMENDATION_NOTES = (
    "Practical and short. I think you would like it.",
    "The second module is the best part; we could try it in our team.",
)


@dataclass(frozen=True)
class Plan:
    """Who is who, who took what (days ago), who shows their name, follows and recommendations."""

    people: dict[str, Colleague]
    took: dict[tuple[str, str], float]
    ratings: dict[str, list[tuple[str, int, str | None, int]]]
    named: set[str]
    unnamed: set[str]  # chose not to be named
    follows: list[tuple[str, str]]
    recommended: list[tuple[str, str, str, str]]  # sender, recipient, course, note


def _titles(rows: list[synthetic.Row], kept: list[str], department: dict[str, str]) -> dict[str, str]:
    """Synthetic item -> demo course id: the most taken are the demo LMS's courses; the others get a
    catalogue title of the department that takes them distinctly more than others, else one for all."""
    takers: dict[str, Counter[str]] = defaultdict(Counter)
    size: Counter[str] = Counter()
    for _, group in {(r[0], r[4]) for r in rows}:
        size[department[group]] += 1
    for _, item, group in {(r[0], r[1], r[4]) for r in rows}:
        takers[item][department[group]] += 1
    everyone = sum(size.values())

    def excess(item: str, group: str) -> float:
        """How many more of the department took it than its share of the organisation would."""
        return takers[item][group] - size[group] * sum(takers[item].values()) / everyone

    chosen: dict[str, str] = {kept[0]: "safety"}  # compulsory: everyone takes it
    python = max(kept[1:12], key=lambda i: excess(i, "Engineering") + excess(i, "Research"))
    chosen[python] = "python"
    chosen[next(i for i in kept[1:] if i not in chosen)] = "leading"
    pools: dict[str, list[str]] = defaultdict(list)
    for course in demo.CATALOGUE:
        pools[course.department].append(course.id)
    pairs = sorted(((excess(i, g), n, g, i) for n, i in enumerate(kept) for g in DEPARTMENTS), reverse=True)
    for score, _, group, item in pairs:
        if score >= 3.0 and item not in chosen and pools[group]:
            chosen[item] = pools[group].pop(0)
    for item in (i for i in kept if i not in chosen):
        chosen[item] = (pools[""] or max(pools.values(), key=len)).pop(0)
    return chosen


def _days_ago(timestamp: float) -> float:
    end = synthetic.START + 730 * 86400
    return max(1.0, (end - timestamp) / 86400)


def _plan() -> Plan:
    rng = random.Random(SEED)  # noqa: S311 - demo data, the same on every run
    rows = list(
        synthetic.generate(
            learners=SYNTHETIC_PEOPLE,
            departments=len(DEPARTMENTS),
            items=500,
            interactions=3200,
            rated_share=0.35,
            seed=SEED,
            human_names=False,
        )
    )
    size = Counter(group for _, group in {(r[0], r[4]) for r in rows})
    department = {group: DEPARTMENTS[rank] for rank, (group, _) in enumerate(size.most_common())}
    popular = Counter(item for _, item in {(r[0], r[1]) for r in rows})
    kept = [item for item, _ in popular.most_common(len(demo.COURSES) + len(demo.CATALOGUE))]
    rows = [r for r in rows if r[1] in set(kept)]
    course_of = _titles(rows, kept, department)

    # The demo's own people take over a synthetic colleague's history in their department.
    history: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        history[r[0]].add(r[1])
    own = [Colleague(u.id, u.name, u.department) for u in demo.USERS if not u.instructor] + list(COLLEAGUES)
    learners = sorted({(r[0], department[r[4]]) for r in rows}, key=lambda x: int(x[0][1:]))
    person_of: dict[str, str] = {}
    for person in own:
        found = next(
            u
            for u, group in learners
            if group == person.department and u not in person_of and 4 <= len(history[u]) <= 12
        )
        person_of[found] = person.id
    people = {u.id: Colleague(u.id, u.name, u.department, u.instructor) for u in demo.USERS}
    people.update({c.id: c for c in COLLEAGUES})
    used = {c.name for c in people.values()}
    for u, group in learners:
        if u in person_of:
            continue
        while (name := f"{rng.choice(FIRST_NAMES)} {rng.choice(FAMILY_NAMES)}") in used:
            pass
        used.add(name)
        person_of[u] = f"colleague-{u[1:]}"
        people[person_of[u]] = Colleague(person_of[u], name, group)

    took: dict[tuple[str, str], float] = {}
    rated: dict[tuple[str, str], tuple[int, float]] = {}
    for learner, item, stars, timestamp, _ in rows:
        key, days = (person_of[learner], course_of[item]), _days_ago(timestamp)
        took[key] = max(took.get(key, 0.0), days)
        if stars is not None and (key not in rated or days < rated[key][1]):
            rated[key] = (int(stars), days)  # a re-take's rating replaces the first one
    for course, entries in RATINGS.items():
        for person, _, _, days in entries:
            took[(person, course)] = max(took.get((person, course), 0.0), days + 1.0)
            rated.pop((person, course), None)  # the written review is the rating
    for course, threads in COMMENTS.items():
        for author, _, days, replies, _ in threads:
            for who, when in [(author, days), *((r[0], r[2]) for r in replies)]:
                if not people[who].instructor:
                    took[(who, course)] = max(took.get((who, course), 0.0), when + 1.0)
    for course, votes in VOTES.items():
        for voter, _ in votes:
            took.setdefault((voter, course), 2.0)
    plan_ratings = {course: list(entries) for course, entries in RATINGS.items()}
    for (person, course), (stars, days) in sorted(rated.items()):
        plan_ratings.setdefault(course, []).append((person, stars, None, int(days)))

    shown = {c.id for c in own if c.id not in ("jonas", "camille")}
    shown |= {p for p in sorted(people) if p.startswith("colleague-") and rng.random() < NAMED_SHARE}
    follows: list[tuple[str, str]] = [("ada", "grace"), ("grace", "ada")]
    by_group: dict[str, list[str]] = defaultdict(list)
    for person in sorted(shown):
        by_group[people[person].department].append(person)
    taken_by: Counter[str] = Counter(person for person, _ in took)
    busiest = max((p for p in by_group["Engineering"] if p.startswith("colleague-")), key=lambda p: (taken_by[p], p))
    follows.append(("ada", busiest))
    for person in sorted(shown):
        if person.startswith("colleague-") and rng.random() < 0.35:
            group = [p for p in by_group[people[person].department] if p != person]
            follows += [(person, other) for other in rng.sample(group, min(len(group), rng.randint(1, 3)))]

    # Two colleagues recommend Ada a course they took and she did not. Grace picks her department's
    # second most taken: the first is left to the colleagues' ratings, to say why in their words.
    def most_taken(group: str, exclude: set[str], place: int = 0) -> str:
        counts = Counter(c for (p, c) in took if people[p].department == group and c not in exclude)
        return sorted(sorted(counts), key=lambda c: -counts[c])[place]

    ada_took = {c for (p, c) in took if p == "ada"}
    first = most_taken("Engineering", ada_took, place=1)
    researcher = next(p for p in by_group["Research"] if p.startswith("colleague-"))
    second = most_taken("Research", ada_took | {first})
    recommended = [
        ("grace", "ada", first, RECOMMENDATION_NOTES[0]),
        (researcher, "ada", second, RECOMMENDATION_NOTES[1]),
    ]
    for sender, _, course, _ in recommended:
        took.setdefault((sender, course), 10.0)
    return Plan(people, took, plan_ratings, shown, {"camille"}, follows, recommended)


PLAN = _plan()
# Every rating the seed gives: the written reviews above, then the colleagues' stars.
RATINGS = PLAN.ratings


class _Seeder:
    """Learners, items and enrolments made once, and the Actors the services take."""

    def __init__(self, session: Session, platform_id: int, now: datetime) -> None:
        self.session, self.platform_id, self.now = session, platform_id, now
        self.items: dict[str, Item] = {}
        self.learners: dict[str, Learner] = {}

    def item(self, course_id: str) -> Item:
        if course_id not in self.items:
            course = demo.course(course_id)
            assert course is not None, course_id
            self.items[course_id] = launches.upsert_item(
                self.session, self.platform_id, context_id=course.id, title=course.title, label=course.label
            )
        return self.items[course_id]

    def learner(self, person: str) -> Learner:
        if person not in self.learners:
            who = PLAN.people[person]
            record = launches.LaunchRecord(
                platform_id=self.platform_id,
                sub=person,
                name=who.name,
                email=None,
                locale="en-GB",
                org_group=who.department,
                roles=(_role(who),),
                context_id="",
                context_title="",
                context_label="",
                resource_link_id=None,
                resource_link_title="",
            )
            self.learners[person] = launches.upsert_learner(self.session, record)
        return self.learners[person]

    def enrol(self, person: str, course_id: str, days: float) -> None:
        who = PLAN.people[person]
        launches.record_enrolment(
            self.session,
            self.learner(person),
            self.item(course_id),
            (_role(who),),
            self.now - timedelta(days=days),
            staff=who.instructor,
        )

    def actor(self, person: str, course_id: str) -> Actor:
        return Actor(
            platform_id=self.platform_id,
            learner_id=self.learner(person).id,
            item_id=self.item(course_id).id,
            staff=PLAN.people[person].instructor,
        )


def _role(who: Colleague) -> str:
    return demo.INSTRUCTOR if who.instructor else demo.LEARNER


def _seed_course(seeder: _Seeder, course_id: str) -> None:
    session, now = seeder.session, seeder.now
    review_ids: dict[str, int] = {}
    for person, stars, review, days in RATINGS.get(course_id, []):
        rating = ratings.rate(session, seeder.actor(person, course_id), stars, review, now=now - timedelta(days=days))
        review_ids[person] = rating.id
    for voter, author in VOTES.get(course_id, []):
        ratings.set_helpful(session, seeder.actor(voter, course_id), review_ids[author], True)
    thread = Thread(platform_id=seeder.platform_id, item_id=seeder.item(course_id).id)
    for author, text, days, replies, pinned in COMMENTS.get(course_id, []):
        top = comments.post_comment(
            session, seeder.actor(author, course_id), thread, text, now=now - timedelta(days=days)
        )
        for reply_author, reply_text, reply_days in replies:
            comments.post_comment(
                session,
                seeder.actor(reply_author, course_id),
                thread,
                reply_text,
                top.id,
                now=now - timedelta(days=reply_days),
            )
        if pinned:
            moderation.set_pinned(
                session, seeder.actor("ines", course_id), top.id, True, now=now - timedelta(days=days)
            )


def seed(session: Session, platform_id: int, now: datetime | None = None) -> bool:
    """Fill the demo organisation with people and activity; False when it already has some."""
    already = session.scalar(select(func.count()).select_from(Rating).where(Rating.platform_id == platform_id))
    if already:
        return False
    seeder = _Seeder(session, platform_id, now or utcnow())
    for course in (*demo.COURSES, *demo.CATALOGUE):
        seeder.item(course.id)
    for person in PLAN.people:
        seeder.learner(person)
    session.flush()
    for course in demo.COURSES:  # Ines teaches the demo LMS's courses
        seeder.enrol("ines", course.id, 400.0)
    for n, ((person, course_id), days) in enumerate(sorted(PLAN.took.items(), key=lambda x: (-x[1], x[0]))):
        seeder.enrol(person, course_id, days)
        if n % 500 == 499:
            session.flush()
    session.flush()
    anywhere = demo.COURSES[0].id
    for person in sorted(PLAN.named | PLAN.unnamed):
        colleagues.set_privacy_choice(session, seeder.actor(person, anywhere), person in PLAN.named)
    for course_id in RATINGS:
        _seed_course(seeder, course_id)
    # Something for the instructor's queue: a colleague reports the harshest review of Safety at Work.
    harsh = session.scalars(
        select(Rating).where(
            Rating.platform_id == platform_id, Rating.item_id == seeder.item("safety").id, Rating.stars == 2
        )
    ).first()
    if harsh is not None:
        moderation.report_review(
            session, seeder.actor("tim", "safety"), harsh.id, "Unfair: the course takes 30 minutes, not long at all."
        )
    for follower, followee in PLAN.follows:
        colleagues.follow(session, seeder.actor(follower, anywhere), seeder.learner(followee).id)
    for sender, recipient, course_id, note in PLAN.recommended:
        colleagues.recommend_to_colleague(session, seeder.actor(sender, course_id), seeder.learner(recipient).id, note)
    session.flush()
    recommendations.build(session, platform_id, force=True, now=seeder.now)
    return True
