"""POST /api/store/payments/webhook/: signed provider events, each applied once."""

import time

import pytest
from sqlalchemy import func, select

from nexus.extensions import db
from nexus.orders.models import OrderPaymentStatus, OrderStatus, PaymentStatus, WebhookEvent
from tests.orders.conftest import PAYMENTS, WEBHOOK, fresh_order, fresh_payment, sign, webhook_event


@pytest.fixture
def bank_transfer(client, customer_headers, placed_order):
    """A pending bank transfer for `placed_order`."""
    response = client.post(PAYMENTS, json={"order": placed_order["id"], "method": "bank_transfer"},
                           headers=customer_headers)  # fmt: skip
    assert response.status_code == 201
    return response.json


def _deliver(client, body: bytes, signature: str | bool | None = None):
    """POST the event; signed correctly by default, with `signature` as given, or unsigned when it is False."""
    headers = {"Content-Type": "application/json"}
    if signature is not False:
        headers["X-Nexus-Signature"] = sign(body) if signature is None else signature
    return client.post(WEBHOOK, data=body, headers=headers)


def test_payment_succeeded_completes_a_bank_transfer(client, placed_order, bank_transfer):
    body = webhook_event("evt_1", "payment.succeeded", payment_id=bank_transfer["id"], transaction_id="BANK-77")

    response = _deliver(client, body)

    assert response.status_code == 200 and response.json == {"id": "evt_1", "status": "processed"}
    payment = fresh_payment(bank_transfer["id"])
    assert payment.status == PaymentStatus.COMPLETED and payment.transaction_id == "BANK-77"
    order = fresh_order(placed_order["id"])
    assert (order.status, order.payment_status) == (OrderStatus.PROCESSING, OrderPaymentStatus.PAID)
    assert order.history[-1].by_id is None
    event = db.session.scalar(select(WebhookEvent))
    assert (event.event_id, event.type, event.outcome) == ("evt_1", "payment.succeeded", "processed")


def test_the_same_event_twice_changes_nothing_the_second_time(client, placed_order, bank_transfer):
    body = webhook_event("evt_2", "payment.succeeded", payment_id=bank_transfer["id"])
    assert _deliver(client, body).json["status"] == "processed"
    first = fresh_order(placed_order["id"])
    before = (first.updated_at, len(first.history), first.paid_at)

    again = _deliver(client, body)

    assert again.status_code == 200 and again.json == {"id": "evt_2", "status": "duplicate"}
    order = fresh_order(placed_order["id"])
    assert (order.updated_at, len(order.history), order.paid_at) == before
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_payment_failed_records_the_reason(client, placed_order, bank_transfer):
    body = webhook_event("evt_3", "payment.failed", payment_id=bank_transfer["id"], failure_reason="Insufficient funds")
    assert _deliver(client, body).json["status"] == "processed"
    payment = fresh_payment(bank_transfer["id"])
    assert payment.status == PaymentStatus.FAILED and payment.failure_reason == "Insufficient funds"
    assert fresh_order(placed_order["id"]).payment_status == OrderPaymentStatus.UNPAID


def test_a_later_event_about_a_settled_payment_is_ignored(client, placed_order, bank_transfer):
    _deliver(client, webhook_event("evt_4", "payment.succeeded", payment_id=bank_transfer["id"]))
    response = _deliver(client, webhook_event("evt_5", "payment.failed", payment_id=bank_transfer["id"]))
    assert response.json["status"] == "ignored"
    assert fresh_payment(bank_transfer["id"]).status == PaymentStatus.COMPLETED


@pytest.mark.parametrize(
    "body",
    [
        webhook_event("evt_6", "customer.created", payment_id=1),
        webhook_event("evt_7", "payment.succeeded", payment_id=999999),
        webhook_event("evt_8", "payment.succeeded", payment_id="1"),
        webhook_event("evt_9", "payment.succeeded", payment_id=10**40),
        webhook_event("evt_10", "payment.succeeded"),
    ],
)
def test_unknown_types_and_payments_are_acknowledged_and_ignored(client, bank_transfer, body):
    response = _deliver(client, body)
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert fresh_payment(bank_transfer["id"]).status == PaymentStatus.PENDING


@pytest.mark.parametrize(
    "signature",
    [
        False,  # no header
        "",
        "garbage",
        "t=abc,v1=00",
        f"t={int(time.time())}",
        f"t={int(time.time())},v1=" + "0" * 64,
    ],
)
def test_a_bad_signature_is_400_and_changes_nothing(client, bank_transfer, signature):
    body = webhook_event("evt_bad", "payment.succeeded", payment_id=bank_transfer["id"])
    response = _deliver(client, body, signature)
    assert response.status_code == 400
    assert response.json["code"] == 400 and "signature" in response.json["message"].lower()
    assert fresh_payment(bank_transfer["id"]).status == PaymentStatus.PENDING
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_a_signature_with_another_secret_or_over_another_body_is_400(client, bank_transfer):
    body = webhook_event("evt_x", "payment.succeeded", payment_id=bank_transfer["id"])
    assert _deliver(client, body, sign(body, secret="whsec_wrong")).status_code == 400
    assert _deliver(client, body, sign(body + b" ")).status_code == 400
    assert fresh_payment(bank_transfer["id"]).status == PaymentStatus.PENDING


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_stale_signature_is_400(client, bank_transfer, age):
    body = webhook_event("evt_old", "payment.succeeded", payment_id=bank_transfer["id"])
    response = _deliver(client, body, sign(body, timestamp=int(time.time()) - age))
    assert response.status_code == 400 and "tolerance" in response.json["message"]
    assert fresh_payment(bank_transfer["id"]).status == PaymentStatus.PENDING


def test_a_signature_within_the_tolerance_and_rotated_secrets_pass(client, bank_transfer):
    body = webhook_event("evt_ok", "payment.succeeded", payment_id=bank_transfer["id"])
    good = sign(body, timestamp=int(time.time()) - 200)
    t, v1 = good.split(",")
    rotated = f"{t},v1={'a' * 64},{v1}"
    assert _deliver(client, body, rotated).json["status"] == "processed"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"type": "payment.succeeded"}', b'{"id": 5, "type": "x"}'])
def test_a_signed_but_malformed_event_is_400(client, body):
    response = _deliver(client, body)
    assert response.status_code == 400 and response.json["code"] == 400
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_the_configured_secret_is_used(app, client, bank_transfer, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENT_WEBHOOK_SECRET", "whsec_rotated")
    body = webhook_event("evt_cfg", "payment.succeeded", payment_id=bank_transfer["id"])
    assert _deliver(client, body).status_code == 400
    assert _deliver(client, body, sign(body, secret="whsec_rotated")).json["status"] == "processed"


def test_the_webhook_format_is_documented(client):
    operation = client.get("/openapi.json").json["paths"]["/api/store/payments/webhook/"]["post"]
    assert any(p["name"] == "X-Nexus-Signature" and p["in"] == "header" for p in operation["parameters"])
    assert "$ref" in operation["requestBody"]["content"]["application/json"]["schema"]
    assert "400" in operation["responses"]
