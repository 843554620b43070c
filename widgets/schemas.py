"""marshmallow schemas at the edge of the widget API: what comes in, what goes out.

flask-smorest turns them into the OpenAPI document at ``/api/openapi.json``. Outgoing learner
text is plain text; clients must render it as text (the widget pages escape it).
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from plugin.models.social import COMMENT_MAX_LENGTH, REASON_MAX_LENGTH, REVIEW_MAX_LENGTH


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


class LearnerOut(Schema):
    name = fields.String()
    locale = fields.String(allow_none=True)


class ItemOut(Schema):
    key = fields.String()
    title = fields.String()
    label = fields.String()


class PlacementOut(Schema):
    id = fields.Integer()
    title = fields.String()
    widget_kinds = fields.List(fields.String())
    settings = fields.Dict()


class MeOut(Schema):
    learner = fields.Nested(LearnerOut)
    item = fields.Nested(ItemOut)
    placement = fields.Nested(PlacementOut, allow_none=True)
    staff = fields.Boolean()


class AuthorOut(Schema):
    """What a reader sees of a writer: the display name, nothing else."""

    name = fields.Function(lambda learner: learner.name or "A colleague")


# -- ratings ----------------------------------------------------------------------------------
class RatingIn(_In):
    stars = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    review = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=REVIEW_MAX_LENGTH))


class OwnRatingOut(Schema):
    stars = fields.Integer()
    review = fields.String(allow_none=True)
    review_hidden = fields.Function(lambda r: r.hidden_at is not None)
    updated_at = fields.DateTime()


class RatingSummaryOut(Schema):
    count = fields.Integer()
    average = fields.Float(allow_none=True)
    damped = fields.Float(metadata={"description": "Bayesian average used for ranking"})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer())
    mine = fields.Nested(OwnRatingOut, allow_none=True)
    reviews_allowed = fields.Boolean()


class ReviewListArgs(_In):
    sort = fields.String(load_default="helpful", validate=validate.OneOf(["helpful", "newest"]))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))


class ReviewOut(Schema):
    id = fields.Integer()
    stars = fields.Integer()
    review = fields.String()
    author = fields.Nested(AuthorOut)
    helpful_count = fields.Integer()
    voted_helpful = fields.Boolean()
    reported = fields.Boolean(metadata={"description": "you reported it and no instructor has acted on it yet"})
    mine = fields.Boolean()
    created_at = fields.DateTime()
    review_updated_at = fields.DateTime()
    hidden = fields.Boolean()
    hidden_reason = fields.String(allow_none=True, metadata={"description": "staff only"})
    open_reports = fields.Integer(metadata={"description": "staff only"})


class ReviewPageOut(Schema):
    reviews = fields.List(fields.Nested(ReviewOut))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()
    sort = fields.String()


class HelpfulOut(Schema):
    id = fields.Integer()
    helpful_count = fields.Integer()
    voted_helpful = fields.Boolean()


class ReportIn(_In):
    reason = fields.String(load_default="", validate=validate.Length(max=REASON_MAX_LENGTH))


class HideIn(_In):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=REASON_MAX_LENGTH))


class ReportOut(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()


# -- comments ---------------------------------------------------------------------------------
class CommentListArgs(_In):
    order = fields.String(load_default="newest", validate=validate.OneOf(["newest", "oldest"]))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class CommentIn(_In):
    body = fields.String(required=True, validate=validate.Length(min=1, max=COMMENT_MAX_LENGTH))
    parent_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 2**31 - 1))


class CommentEditIn(_In):
    body = fields.String(required=True, validate=validate.Length(min=1, max=COMMENT_MAX_LENGTH))


class CommentOut(Schema):
    id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    body = fields.String(metadata={"description": "empty when deleted or hidden"})
    author = fields.Nested(AuthorOut, allow_none=True)
    mine = fields.Boolean()
    created_at = fields.DateTime()
    edited = fields.Boolean()
    deleted = fields.Boolean()
    hidden = fields.Boolean()
    held = fields.Boolean(metadata={"description": "waiting for an instructor's approval"})
    pinned = fields.Boolean()
    reported = fields.Boolean(metadata={"description": "you reported it and no instructor has acted on it yet"})
    hidden_reason = fields.String(allow_none=True, metadata={"description": "staff only"})
    replies = fields.List(fields.Nested(lambda: CommentOut()))


class CommentPageOut(Schema):
    pinned = fields.List(fields.Nested(CommentOut))
    comments = fields.List(fields.Nested(CommentOut))
    count = fields.Integer()
    next_cursor = fields.String(allow_none=True)
    order = fields.String()


# -- moderation -------------------------------------------------------------------------------
class QueueEntryOut(Schema):
    kind = fields.String()
    id = fields.Integer()
    text = fields.String()
    author = fields.Nested(AuthorOut)
    reports = fields.Integer()
    reasons = fields.List(fields.String())
    held = fields.Boolean()
    created_at = fields.DateTime()


class QueueOut(Schema):
    entries = fields.List(fields.Nested(QueueEntryOut))


class DismissIn(_In):
    kind = fields.String(required=True, validate=validate.OneOf(["review", "comment"]))
    id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1))


# -- colleagues and recommendations -----------------------------------------------------------
class ColleagueOut(Schema):
    """A colleague who lets colleagues see their name: name and department, nothing else."""

    id = fields.Integer()
    name = fields.String()
    org_group = fields.String(allow_none=True)
    followed = fields.Boolean()


class AlsoTookOut(Schema):
    title = fields.String()
    url = fields.String(allow_none=True)
    takers = fields.Integer()
    mean_rating = fields.Float(allow_none=True, metadata={"description": "null when fewer than 3 of them rated it"})


class TakersOut(Schema):
    total = fields.Integer(allow_none=True, metadata={"description": "null: fewer than 3 colleagues"})
    org_group = fields.String(allow_none=True)
    in_group = fields.Integer(allow_none=True, metadata={"description": "null: hidden (under 3, or no department)"})
    named = fields.List(fields.Nested(ColleagueOut))
    you_took = fields.Boolean()
    summary = fields.String(metadata={"description": "the count in words, in the launch's language"})
    also_took = fields.List(fields.Nested(AlsoTookOut))


class ColleagueSearchArgs(_In):
    q = fields.String(required=True, validate=validate.Length(min=2, max=100))


class ColleagueListOut(Schema):
    colleagues = fields.List(fields.Nested(ColleagueOut))


class ShareIn(_In):
    note = fields.String(load_default="", validate=validate.Length(max=300))


class ShareOut(Schema):
    recipient = fields.Nested(ColleagueOut)
    created_at = fields.DateTime()


class PrivacyIn(_In):
    show_name = fields.Boolean(required=True)


class PrivacyOut(Schema):
    show_name = fields.Boolean(metadata={"description": "whether colleagues see your name now"})
    choice = fields.Boolean(allow_none=True, metadata={"description": "null: the organisation's default applies"})
    platform_default = fields.Boolean()


class RecommendedOut(Schema):
    title = fields.String()
    url = fields.String(allow_none=True)
    reason = fields.String(metadata={"description": "why, in one line, in the launch's language"})
    kind = fields.String()


class RecommendationsOut(Schema):
    items = fields.List(fields.Nested(RecommendedOut))
