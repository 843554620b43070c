"""marshmallow schemas at the edge of the widget API."""

from marshmallow import Schema, fields


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
