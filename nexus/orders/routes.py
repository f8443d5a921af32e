"""HTTP routes of orders and payments."""

from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user

from nexus.common.api import Blueprint
from nexus.common.idempotency import REPLAYED_HEADER_DOC, idempotent
from nexus.common.pagination import PaginationArgsSchema, envelope, page_schema
from nexus.orders import services
from nexus.orders.schemas import (
    OrderCreateSchema,
    OrderItemSchema,
    OrderQueryArgsSchema,
    OrderSchema,
    OrderStatusUpdateSchema,
    PaymentConfirmSchema,
    PaymentCreateSchema,
    PaymentQueryArgsSchema,
    PaymentSchema,
    WebhookAckSchema,
    WebhookEventSchema,
)
from nexus.orders.services.webhook import SIGNATURE_HEADER

blp = Blueprint("orders", __name__, url_prefix="/api/store", description="Orders, payments and the payment webhook")


_CHECKOUT = (
    "Stock is taken, names and prices are copied into the items and the cart is emptied, in one transaction. "
    "Empty cart → 400. Lines short of stock → 409 with `details.lines` naming every short line with what is "
    "available (nothing changes). An inactive variant or product → 409 naming it. Shipping is "
    "SHIPPING_FLAT_RATE, free when the subtotal reaches FREE_SHIPPING_THRESHOLD."
)
_PAYMENT = (
    "The amount is always the order's total. card/paypal are charged by the provider in the background (test "
    "provider: `card_token` tok_visa or none succeeds, tok_chargeDeclined fails with a reason); bank_transfer "
    "stays pending until an admin confirms it (`POST /api/store/payments/{id}/confirm/`) or the webhook does; "
    "cash_on_delivery completes when the order is delivered. An order already paid or cancelled, or with a "
    "payment still pending → 409."
)

_WEBHOOK = (
    'For payment providers. The body is a JSON event `{"id": "evt_...", "type": "payment.succeeded" | '
    '"payment.failed", "data": {"payment_id": 123, "transaction_id"?: "...", "failure_reason"?: '
    '"..."}}`, signed in `X-Nexus-Signature: t=<unix time>,v1=<hex>` where the hex is HMAC-SHA256 with '
    'PAYMENT_WEBHOOK_SECRET over `"<t>." + raw body`. A missing, wrong or stale (more than 5 minutes off) '
    "signature → 400. Each event id is applied once: a redelivery answers `duplicate` and changes nothing. "
    "Events of other types, unknown payments or payments no longer pending are acknowledged as `ignored`."
)


def _caller() -> dict:
    return {"user_id": current_user.id, "is_staff": current_user.is_staff}


@blp.route("/orders/")
class Orders(MethodView):
    @blp.login_required()
    @blp.arguments(OrderQueryArgsSchema, location="query")
    @blp.response(200, page_schema(OrderSchema))
    @blp.documents(400, 404)
    def get(self, args):
        """Your orders, newest first (admins: everyone's, with `user`); filter with `?status=`."""
        return envelope(services.list_orders(**_caller(), **args))

    @blp.login_required()
    @idempotent
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, headers=REPLAYED_HEADER_DOC)
    @blp.documents(400, 409)
    @blp.doc(description=_CHECKOUT)
    def post(self, data):
        """Check out: the whole cart becomes an order, or nothing changes."""
        return services.place_order(**_caller(), **data)


@blp.route("/orders/<int:order_id>/")
class OrderDetail(MethodView):
    @blp.login_required()
    @blp.response(200, OrderSchema)
    @blp.documents(404)
    def get(self, order_id):
        """One order with its items and status history."""
        return services.get_order(order_id=order_id, **_caller())


@blp.route("/orders/<int:order_pk>/items/")
class OrderItems(MethodView):
    @blp.login_required()
    @blp.arguments(PaginationArgsSchema, location="query")
    @blp.response(200, page_schema(OrderItemSchema))
    @blp.documents(400, 404)
    def get(self, args, order_pk):
        """The order's items."""
        return envelope(services.list_order_items(order_id=order_pk, **_caller(), **args))


@blp.route("/orders/<int:order_id>/cancel/")
class OrderCancel(MethodView):
    @blp.login_required()
    @blp.response(200, OrderSchema)
    @blp.documents(404, 409)
    def post(self, order_id):
        """Cancel: the owner while pending, an admin until shipped; stock goes back and a paid order is refunded."""
        return services.cancel_order(order_id=order_id, **_caller())


@blp.route("/orders/<int:order_id>/status/")
class OrderStatusChange(MethodView):
    @blp.admin_required()
    @blp.arguments(OrderStatusUpdateSchema)
    @blp.response(200, OrderSchema)
    @blp.documents(400, 404, 409)
    def post(self, data, order_id):
        """Move the order one step: pending → processing → shipped → delivered (or `cancelled`); else 409."""
        return services.change_order_status(order_id=order_id, status=data["status"], by_id=current_user.id)


@blp.route("/payments/")
class Payments(MethodView):
    @blp.login_required()
    @blp.arguments(PaymentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(PaymentSchema))
    @blp.documents(400, 404)
    def get(self, args):
        """Your payments, newest first (admins: everyone's); filter with `?status=` and `?order=`."""
        return envelope(services.list_payments(**_caller(), **args))

    @blp.login_required()
    @idempotent
    @blp.arguments(PaymentCreateSchema)
    @blp.response(201, PaymentSchema, headers=REPLAYED_HEADER_DOC)
    @blp.documents(400, 404, 409)
    @blp.doc(description=_PAYMENT)
    def post(self, data):
        """Pay an order: a pending payment of the order's total, processed in the background."""
        return services.create_payment(**_caller(), **data)


@blp.route("/payments/<int:payment_id>/")
class PaymentDetail(MethodView):
    @blp.login_required()
    @blp.response(200, PaymentSchema)
    @blp.documents(404)
    def get(self, payment_id):
        """One payment."""
        return services.get_payment(payment_id=payment_id, **_caller())


@blp.route("/payments/<int:payment_id>/confirm/")
class PaymentConfirm(MethodView):
    @blp.admin_required()
    @blp.arguments(PaymentConfirmSchema, required=False)
    @blp.response(200, PaymentSchema)
    @blp.documents(400, 404, 409)
    def post(self, data, payment_id):
        """Confirm a pending bank transfer (or cash on delivery) as received: the order becomes paid."""
        return services.confirm_payment(payment_id=payment_id, by_id=current_user.id, **data)


@blp.route("/payments/webhook/")
class PaymentWebhook(MethodView):
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": SIGNATURE_HEADER,
                "required": True,
                "schema": {"type": "string", "example": "t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e7"},
                "description": 'HMAC-SHA256 with PAYMENT_WEBHOOK_SECRET over `"<t>." + raw body`, hex; t within '
                "5 minutes of the server's clock. Several v1 entries may be given (secret rotation).",
            }
        ],
        requestBody={"required": True, "content": {"application/json": {"schema": WebhookEventSchema}}},
    )
    @blp.response(200, WebhookAckSchema)
    @blp.documents(400)
    @blp.doc(description=_WEBHOOK)
    def post(self):
        """The payment provider's callback: payment.succeeded / payment.failed; a replayed event changes nothing."""
        return services.handle_payment_webhook(
            payload=request.get_data(), signature=request.headers.get(SIGNATURE_HEADER)
        )
