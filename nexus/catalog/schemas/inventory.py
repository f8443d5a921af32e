"""Inventory shapes: the low-stock report and the stock ledger."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from nexus.catalog.models import MovementReason
from nexus.catalog.schemas.common import ProductRefSchema
from nexus.catalog.schemas.products import VariantSchema
from nexus.common.api import MAX_ID
from nexus.common.pagination import PaginationArgsSchema


class LowStockVariantSchema(VariantSchema):
    """A variant at or under its product's low-stock threshold."""

    product = fields.Nested(ProductRefSchema, required=True)
    threshold = fields.Integer(attribute="product.effective_low_stock_threshold", required=True)


class VariantRefSchema(Schema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)


class UserRefSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)


class StockMovementSchema(Schema):
    """One change of a variant's stock; a variant's changes sum to its stock."""

    id = fields.Integer(required=True)
    variant = fields.Nested(VariantRefSchema, required=True)
    change = fields.Integer(required=True)
    stock_after = fields.Integer(required=True)
    reason = fields.Enum(MovementReason, by_value=True, required=True)
    order = fields.Integer(attribute="order_id", required=True, allow_none=True, metadata={"description": "order id"})
    by = fields.Nested(UserRefSchema, required=True, allow_none=True, metadata={"description": "who made it"})
    created_at = fields.DateTime(required=True)


class LowStockQueryArgsSchema(PaginationArgsSchema):
    pass


class MovementQueryArgsSchema(PaginationArgsSchema):
    # Bounded like the id column: a larger number names no variant and would overflow the database's integer.
    variant = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "a variant id"})
    reason = fields.Enum(MovementReason, by_value=True)
