"""Review shapes: output, create/update bodies."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from nexus.catalog.schemas.common import ProductRefSchema
from nexus.common.pagination import PaginationArgsSchema
from nexus.common.schemas import InputSchema

_RATING = validate.Range(min=1, max=5)


class ReviewerSchema(Schema):
    id = fields.Integer(required=True)
    first_name = fields.String(required=True)


class ReviewSchema(Schema):
    """A customer's review; `verified_purchase` when they bought the product."""

    id = fields.Integer(required=True)
    product = fields.Pluck(ProductRefSchema, "slug", required=True)
    user = fields.Nested(ReviewerSchema, required=True)
    rating = fields.Integer(required=True, metadata={"minimum": 1, "maximum": 5})
    title = fields.String(required=True)
    comment = fields.String(required=True)
    verified_purchase = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ReviewCreateSchema(InputSchema):
    rating = fields.Integer(required=True, strict=True, validate=_RATING)
    title = fields.String(load_default="", validate=validate.Length(max=200))
    comment = fields.String(required=True, validate=validate.Length(max=5000))


class ReviewUpdateSchema(InputSchema):
    rating = fields.Integer(strict=True, validate=_RATING)
    title = fields.String(validate=validate.Length(max=200))
    comment = fields.String(validate=validate.Length(max=5000))


class ReviewQueryArgsSchema(PaginationArgsSchema):
    pass
