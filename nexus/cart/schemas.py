"""Schemas of carts, cart items and wishlist entries: output shapes and strict input bodies."""

from __future__ import annotations

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from nexus.catalog.models import SIZES, ProductStatus
from nexus.common.api import MAX_ID
from nexus.common.pagination import PaginationArgsSchema
from nexus.common.schemas import InputSchema, Money

# -- output ---------------------------------------------------------------------------------------------


class CartVariantSchema(Schema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    size = fields.String(required=True, metadata={"enum": list(SIZES)})
    price = Money(required=True, metadata={"description": "the variant's current price"})


class CartProductSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    main_image = fields.String(required=True, allow_none=True, metadata={"description": "URL, or null"})


class CartItemSchema(Schema):
    """A cart line, priced at its variant's current price."""

    id = fields.Integer(required=True)
    variant = fields.Nested(CartVariantSchema, required=True)
    product = fields.Nested(CartProductSchema, required=True)
    quantity = fields.Integer(required=True)
    unit_price = Money(required=True)
    line_total = Money(required=True)


class CartSchema(Schema):
    """The user's cart: one per user, kept in the database."""

    id = fields.Integer(required=True)
    items = fields.List(fields.Nested(CartItemSchema), required=True)
    item_count = fields.Integer(required=True, metadata={"description": "the sum of the lines' quantities"})
    subtotal = Money(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    updated_at = fields.DateTime(required=True)


class WishlistProductSchema(CartProductSchema):
    price = Money(required=True, allow_none=True, metadata={"description": "lowest active variant price, or null"})
    status = fields.Enum(
        ProductStatus,
        by_value=True,
        required=True,
        metadata={"type": "string", "description": "current status: entries of products no longer sold stay listed"},
    )


class WishlistEntrySchema(Schema):
    id = fields.Integer(required=True)
    product = fields.Nested(WishlistProductSchema, required=True)
    created_at = fields.DateTime(required=True)


# -- input ----------------------------------------------------------------------------------------------


def _quantity_in_range(value: int) -> None:
    highest = current_app.config["MAX_LINE_QUANTITY"]
    if value < 1:
        raise ValidationError("Must be greater than or equal to 1.")
    if value > highest:
        raise ValidationError(f"Must be less than or equal to {highest}.")


def _quantity(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=_quantity_in_range,
        metadata={"minimum": 1, "description": "from 1 to MAX_LINE_QUANTITY (default 100)", "example": 1},
        **kwargs,
    )


class CartItemCreateSchema(InputSchema):
    variant_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = _quantity(load_default=1)


class CartItemUpdateSchema(InputSchema):
    quantity = _quantity(required=True)


class ProductRef(fields.Field):
    """A product's numeric id (integer) or slug (string)."""

    default_error_messages = {"invalid": "Must be a product id (integer) or slug (string)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and 0 < len(value.strip()) <= 220:
            return value.strip()
        raise self.make_error("invalid")


class WishlistEntryCreateSchema(InputSchema):
    product = ProductRef(
        required=True,
        metadata={
            "oneOf": [{"type": "string"}, {"type": "integer"}],
            "description": "the product's slug or numeric id",
            "example": "classic-tee",
        },
    )


class CartItemQueryArgsSchema(PaginationArgsSchema):
    """Paging of the user's cart items."""


class WishlistQueryArgsSchema(PaginationArgsSchema):
    """Paging of the user's wishlist."""
