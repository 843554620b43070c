"""The data model. Every table that holds an organisation's data carries ``platform_id``.

Child rows point at their parents with composite foreign keys that include ``platform_id``
(``(platform_id, learner_id) -> learner(platform_id, id)``), so the database itself refuses a row
that would tie one organisation's learner to another organisation's course.
"""

from plugin.models.colleagues import (
    ColleagueRecommendation,
    Follow,
    GroupPopular,
    ItemAlsoTook,
    ItemTakers,
    LearnerRecommendation,
    RecommendBuild,
    RosterMember,
    RosterSource,
)
from plugin.models.learning import Enrolment, Item, Learner, Placement
from plugin.models.lti_state import LoginState
from plugin.models.outbox import ActorIdentity, LrsCursor, LrsSettings, OutboxStatement, OutboxStatus
from plugin.models.platform import (
    Deployment,
    LaunchFailure,
    Platform,
    PlatformOrigin,
    RegistrationToken,
    ToolKey,
)
from plugin.models.social import Comment, Rating, RatingTally, Report, ReviewVote

__all__ = [
    "ActorIdentity",
    "ColleagueRecommendation",
    "Comment",
    "Deployment",
    "Enrolment",
    "Follow",
    "GroupPopular",
    "Item",
    "ItemAlsoTook",
    "ItemTakers",
    "LaunchFailure",
    "Learner",
    "LearnerRecommendation",
    "LoginState",
    "LrsCursor",
    "LrsSettings",
    "OutboxStatement",
    "OutboxStatus",
    "Placement",
    "Platform",
    "PlatformOrigin",
    "Rating",
    "RatingTally",
    "RecommendBuild",
    "RegistrationToken",
    "Report",
    "ReviewVote",
    "RosterMember",
    "RosterSource",
    "ToolKey",
]
