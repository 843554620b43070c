"""Lived-in demo data: the demo LMS's people have rated, reviewed and discussed its courses.

Everything goes through the same core services a real launch and the widget API use (learners,
enrolments, ratings, votes, comments, moderation), so `make run` shows the product as it is.
Seeding runs once per database: it does nothing when the demo platform already has ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti.demo import platform as demo
from plugin.db import utcnow
from plugin.models import Rating
from plugin.services import comments, launches, moderation, ratings
from plugin.services.actors import Actor, Thread


@dataclass(frozen=True)
class Colleague:
    id: str
    name: str
    department: str


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


def _people() -> dict[str, tuple[str, str, bool]]:
    people = {u.id: (u.name, u.department, u.instructor) for u in demo.USERS}
    people.update({c.id: (c.name, c.department, False) for c in COLLEAGUES})
    return people


class _CourseSeeder:
    """Learners of one course, made on first mention and enrolled, as the Actors services take."""

    def __init__(self, session: Session, platform_id: int, course: demo.DemoCourse) -> None:
        self.session, self.platform_id, self.course = session, platform_id, course
        self.item = launches.upsert_item(
            session, platform_id, context_id=course.id, title=course.title, label=course.label
        )
        self.people = _people()
        self.learner_ids: dict[str, int] = {}

    def actor(self, person: str) -> Actor:
        name, department, instructor = self.people[person]
        if person not in self.learner_ids:
            record = launches.LaunchRecord(
                platform_id=self.platform_id,
                sub=person,
                name=name,
                email=None,
                locale="en-GB",
                org_group=department,
                roles=(demo.INSTRUCTOR if instructor else demo.LEARNER,),
                context_id=self.course.id,
                context_title=self.course.title,
                context_label=self.course.label,
                resource_link_id=None,
                resource_link_title="",
            )
            learner = launches.upsert_learner(self.session, record)
            self.session.flush()
            launches.record_enrolment(self.session, learner, self.item, record.roles)
            self.learner_ids[person] = learner.id
        return Actor(
            platform_id=self.platform_id, learner_id=self.learner_ids[person], item_id=self.item.id, staff=instructor
        )

    def seed(self, now: datetime) -> None:
        session, course = self.session, self.course
        review_ids: dict[str, int] = {}
        for person, stars, review, days in RATINGS.get(course.id, []):
            rating = ratings.rate(session, self.actor(person), stars, review, now=now - timedelta(days=days))
            review_ids[person] = rating.id
        for voter, author in VOTES.get(course.id, []):
            ratings.set_helpful(session, self.actor(voter), review_ids[author], True)
        thread = Thread(platform_id=self.platform_id, item_id=self.item.id)
        for author, text, days, replies, pinned in COMMENTS.get(course.id, []):
            top = comments.post_comment(session, self.actor(author), thread, text, now=now - timedelta(days=days))
            for reply_author, reply_text, reply_days in replies:
                comments.post_comment(
                    session, self.actor(reply_author), thread, reply_text, top.id, now=now - timedelta(days=reply_days)
                )
            if pinned:
                moderation.set_pinned(session, self.actor("ines"), top.id, True, now=now - timedelta(days=days))


def seed(session: Session, platform_id: int, now: datetime | None = None) -> bool:
    """Fill the demo courses with activity; False when they already have some."""
    already = session.scalar(select(func.count()).select_from(Rating).where(Rating.platform_id == platform_id))
    if already:
        return False
    now = now or utcnow()
    seeders = {course.id: _CourseSeeder(session, platform_id, course) for course in demo.COURSES}
    for seeder in seeders.values():
        seeder.seed(now)
    # Something for the instructor's queue: a colleague reports the harshest review of Safety at Work.
    safety = seeders["safety"]
    harsh = session.scalars(
        select(Rating).where(Rating.platform_id == platform_id, Rating.item_id == safety.item.id, Rating.stars == 2)
    ).first()
    if harsh is not None:
        moderation.report_review(
            session, safety.actor("tim"), harsh.id, "Unfair: the course takes 30 minutes, not long at all."
        )
    session.flush()
    return True
