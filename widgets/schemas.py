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
