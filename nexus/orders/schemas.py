"""Schemas of orders, order items and payments: output shapes, strict input bodies and list filters."""

from __future__ import annotations

import pycountry
from marshmallow import Schema, ValidationError, fields, missing, post_load, validate, validates_schema

from nexus.common.api import MAX_ID
from nexus.common.pagination import PaginationArgsSchema
from nexus.common.schemas import InputSchema, Money
from nexus.orders.models import OrderPaymentStatus, OrderStatus, PaymentMethod, PaymentStatus

# -- output ---------------------------------------------------------------------------------------------


class ShippingAddressSchema(Schema):
    full_name = fields.String(required=True)
    line1 = fields.String(required=True)
    line2 = fields.String(required=True, metadata={"description": "empty when not given"})
    city = fields.String(required=True)
    postal_code = fields.String(required=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166-1 alpha-2", "example": "DE"})
    phone = fields.String(required=True, metadata={"description": "empty when not given"})


class OrderProductSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)


class OrderItemSchema(Schema):
    """A line of an order: name, SKU, size and price are copies taken at checkout."""

    id = fields.Integer(required=True)
    product = fields.Nested(
        OrderProductSchema, required=True, allow_none=True, metadata={"description": "null if the product is gone"}
    )
    product_name = fields.String(required=True)
    variant_sku = fields.String(required=True)
    size = fields.String(required=True)
    unit_price = Money(required=True)
    quantity = fields.Integer(required=True)
    line_total = Money(required=True)


class OrderHistorySchema(Schema):
    """A status change: `by` is the user who made it, null when the system did (payment, expiry)."""

    status = fields.Enum(OrderStatus, by_value=True, required=True, attribute="to_status")
    from_status = fields.Enum(
        OrderStatus, by_value=True, required=True, allow_none=True, metadata={"description": "null at creation"}
    )
    at = fields.DateTime(required=True)
    by = fields.Integer(required=True, allow_none=True, attribute="by_id", metadata={"description": "a user id"})


class OrderUserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)


class OrderSchema(Schema):
    """An order; `user` is shown to admins only."""

    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "NX-2026-000123"})
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    payment_status = fields.Enum(OrderPaymentStatus, by_value=True, required=True)
    items = fields.List(fields.Nested(OrderItemSchema), required=True)
    subtotal = Money(required=True)
    shipping_cost = Money(required=True)
    total = Money(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    shipping_address = fields.Nested(ShippingAddressSchema, required=True)
    notes = fields.String(required=True)
    history = fields.List(fields.Nested(OrderHistorySchema), required=True)
    allowed_transitions = fields.List(
        fields.Enum(OrderStatus, by_value=True),
        required=True,
        metadata={"description": "the statuses the caller may move the order to now"},
    )
    paid_at = fields.DateTime(required=True, allow_none=True)
    cancelled_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    user = fields.Nested(OrderUserSchema, metadata={"description": "admins only"})

    def get_attribute(self, obj, attr, default):
        # `user` is read for admins only: for anyone else it is left out, never loaded.
        if attr == "user" and not getattr(obj, "shown_to_staff", False):
            return missing
        return super().get_attribute(obj, attr, default)


class PaymentSchema(Schema):
    id = fields.Integer(required=True)
    order = fields.Integer(required=True, attribute="order_id", metadata={"description": "the order's id"})
    amount = Money(required=True, metadata={"description": "always the order's total"})
    currency = fields.String(required=True, metadata={"example": "USD"})
    method = fields.Enum(PaymentMethod, by_value=True, required=True)
    status = fields.Enum(PaymentStatus, by_value=True, required=True)
    transaction_id = fields.String(required=True, allow_none=True)
    failure_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookEventDataSchema(Schema):
    payment_id = fields.Integer(required=True)
    transaction_id = fields.String(metadata={"description": "the provider's id of the charge"})
    failure_reason = fields.String(metadata={"description": "for payment.failed"})


class WebhookEventSchema(Schema):
    """A provider event. Sign the raw body: `X-Nexus-Signature: t=<unix time>,v1=<hex>` where the hex is
    HMAC-SHA256 over `"<t>." + body` with PAYMENT_WEBHOOK_SECRET; t must be within 5 minutes of now."""

    id = fields.String(required=True, metadata={"example": "evt_1Nq2x3"})
    type = fields.String(required=True, metadata={"enum": ["payment.succeeded", "payment.failed"]})
    data = fields.Nested(WebhookEventDataSchema, required=True)


class WebhookAckSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the event id"})
    status = fields.String(
        required=True,
        metadata={
            "enum": ["processed", "duplicate", "ignored"],
            "description": "processed; duplicate (seen before, nothing changed); ignored (unknown type or "
            "payment, or a payment no longer pending)",
        },
    )


# -- input ----------------------------------------------------------------------------------------------


class Trimmed(fields.String):
    """A string with surrounding whitespace removed."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def _country(value: str) -> None:
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ValidationError("Not an ISO 3166-1 alpha-2 country code.")


def _required_text(max_length: int) -> Trimmed:
    return Trimmed(required=True, validate=validate.Length(min=1, max=max_length))


class ShippingAddressInputSchema(InputSchema):
    full_name = _required_text(200)
    line1 = _required_text(200)
    line2 = Trimmed(load_default="", validate=validate.Length(max=200))
    city = _required_text(100)
    postal_code = _required_text(20)
    country = Trimmed(required=True, validate=_country, metadata={"example": "DE"})
    phone = Trimmed(
        load_default="",
        validate=validate.Regexp(r"^(\+?[0-9][0-9 ()./-]{3,30})?$", error="Not a valid phone number."),
    )

    @post_load
    def _country_upper(self, data: dict, **kwargs) -> dict:
        data["country"] = data["country"].upper()
        return data


class OrderCreateSchema(InputSchema):
    shipping_address = fields.Nested(ShippingAddressInputSchema, required=True)
    notes = Trimmed(load_default="", validate=validate.Length(max=2000))


class OrderStatusUpdateSchema(InputSchema):
    status = fields.Enum(
        OrderStatus,
        by_value=True,
        required=True,
        metadata={"description": "the next status (pending→processing→shipped→delivered), or cancelled"},
    )


class PaymentCreateSchema(InputSchema):
    order_id = fields.Integer(data_key="order", strict=True, required=True, validate=validate.Range(min=1, max=MAX_ID))
    method = fields.Enum(PaymentMethod, by_value=True, required=True)
    card_token = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "card payments only; test provider: tok_visa succeeds, tok_chargeDeclined fails"},
    )

    @validates_schema
    def _token_for_cards_only(self, data: dict, **kwargs) -> None:
        if "card_token" in data and data["method"] != PaymentMethod.CARD:
            raise ValidationError("Only card payments take a card_token.", field_name="card_token")


class PaymentConfirmSchema(InputSchema):
    transaction_id = fields.String(
        validate=validate.Length(min=1, max=255), metadata={"description": "the bank's reference, if known"}
    )


class OrderQueryArgsSchema(PaginationArgsSchema):
    status = fields.Enum(OrderStatus, by_value=True)


class PaymentQueryArgsSchema(PaginationArgsSchema):
    status = fields.Enum(PaymentStatus, by_value=True)
    order_id = fields.Integer(
        data_key="order", validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "an order's id"}
    )
