"""Payments: created pending, processed in the background, confirmed by admins; amounts are the order's."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from nexus.extensions import db
from nexus.orders.models import Order, OrderPaymentStatus, OrderStatus, Payment, PaymentStatus
from tests.factories import OrderFactory, PaymentFactory
from tests.helpers import count_queries, wait_for
from tests.orders.conftest import ORDERS, PAYMENTS, emails_about, fresh_order, fresh_payment


def _pay(client, headers, order_id, method="card", **extra):
    return client.post(PAYMENTS, json={"order": order_id, "method": method, **extra}, headers=headers)


def _settled(payment_id):
    """Wait for the background task to take the payment out of `pending`."""
    return wait_for(lambda: fresh_payment(payment_id).status != PaymentStatus.PENDING and fresh_payment(payment_id))


@pytest.mark.parametrize("token", [None, "tok_visa"])
def test_a_card_payment_completes_and_the_order_is_paid_and_processing(
    client, customer, customer_headers, placed_order, token
):
    extra = {"card_token": token} if token else {}
    response = _pay(client, customer_headers, placed_order["id"], **extra)

    assert response.status_code == 201
    body = response.json
    assert body["status"] == "pending"
    assert (body["order"], body["amount"], body["currency"], body["method"]) == (placed_order["id"], "55.00", "USD",
                                                                                 "card")  # fmt: skip
    payment = _settled(body["id"])
    assert payment.status == PaymentStatus.COMPLETED and payment.transaction_id.startswith("test_ch_")
    assert payment.amount == Decimal("55.00") and payment.card_token is None
    order = fresh_order(placed_order["id"])
    assert order.payment_status == OrderPaymentStatus.PAID and order.status == OrderStatus.PROCESSING
    assert order.paid_at is not None
    detail = client.get(f"{ORDERS}{order.id}/", headers=customer_headers).json
    assert [(h["status"], h["by"]) for h in detail["history"]][-1] == ("processing", None)
    assert emails_about(customer.email, "being prepared")


def test_paypal_is_charged_like_a_card(client, customer_headers, placed_order):
    payment = _settled(_pay(client, customer_headers, placed_order["id"], "paypal").json["id"])
    assert payment.status == PaymentStatus.COMPLETED


def test_a_declined_card_fails_with_a_reason_and_the_order_stays_payable(client, customer_headers, placed_order):
    first = _pay(client, customer_headers, placed_order["id"], card_token="tok_chargeDeclined").json
    failed = _settled(first["id"])
    assert failed.status == PaymentStatus.FAILED and failed.failure_reason == "Your card was declined."
    order = fresh_order(placed_order["id"])
    assert (order.status, order.payment_status) == (OrderStatus.PENDING, OrderPaymentStatus.UNPAID)
    detail = client.get(f"{PAYMENTS}{first['id']}/", headers=customer_headers).json
    assert detail["status"] == "failed" and detail["failure_reason"] == "Your card was declined."

    second = _pay(client, customer_headers, placed_order["id"], card_token="tok_visa")
    assert second.status_code == 201
    assert _settled(second.json["id"]).status == PaymentStatus.COMPLETED
    assert fresh_order(placed_order["id"]).payment_status == OrderPaymentStatus.PAID


def test_an_unknown_token_fails(client, customer_headers, placed_order):
    payment = _settled(_pay(client, customer_headers, placed_order["id"], card_token="tok_bogus").json["id"])
    assert payment.status == PaymentStatus.FAILED and "invalid" in payment.failure_reason


def test_paying_a_paid_order_is_409(client, customer_headers, placed_order):
    _settled(_pay(client, customer_headers, placed_order["id"]).json["id"])
    response = _pay(client, customer_headers, placed_order["id"])
    assert response.status_code == 409 and "already paid" in response.json["message"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_paying_a_cancelled_order_is_409(client, customer_headers, placed_order):
    client.post(f"{ORDERS}{placed_order['id']}/cancel/", headers=customer_headers)
    response = _pay(client, customer_headers, placed_order["id"])
    assert response.status_code == 409 and "cancelled" in response.json["message"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_second_payment_while_one_is_pending_is_409(client, customer_headers, placed_order):
    assert _pay(client, customer_headers, placed_order["id"], "bank_transfer").status_code == 201
    response = _pay(client, customer_headers, placed_order["id"], "card")
    assert response.status_code == 409 and "in progress" in response.json["message"]


def test_the_amount_is_never_the_clients(client, customer_headers, placed_order):
    response = _pay(client, customer_headers, placed_order["id"], amount="0.01")
    assert response.status_code == 400 and "amount" in response.json["errors"]["json"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"order": 1}, {"order": "1", "method": "card"}, {"order": 1, "method": "bitcoin"},
     {"order": 1, "method": "bank_transfer", "card_token": "tok_visa"}, {"order": 0, "method": "card"},
     {"order": 2**31, "method": "card"}, {"order": 1, "method": "card", "status": "completed"}],
)  # fmt: skip
def test_bad_payment_bodies_are_400(client, customer_headers, placed_order, body):
    assert client.post(PAYMENTS, json=body, headers=customer_headers).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_paying_another_users_order_is_404(client, other_headers, placed_order):
    assert _pay(client, other_headers, placed_order["id"]).status_code == 404
    assert _pay(client, other_headers, 987654).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_bank_transfer_stays_pending_until_an_admin_confirms_it(client, customer_headers, admin, admin_headers,
                                                                placed_order):  # fmt: skip
    payment = _pay(client, customer_headers, placed_order["id"], "bank_transfer").json
    assert fresh_payment(payment["id"]).status == PaymentStatus.PENDING

    assert client.post(f"{PAYMENTS}{payment['id']}/confirm/", headers=customer_headers).status_code == 403
    response = client.post(f"{PAYMENTS}{payment['id']}/confirm/", json={"transaction_id": "BANK-REF-1"},
                           headers=admin_headers)  # fmt: skip

    assert response.status_code == 200
    assert response.json["status"] == "completed" and response.json["transaction_id"] == "BANK-REF-1"
    order = fresh_order(placed_order["id"])
    assert (order.status, order.payment_status) == (OrderStatus.PROCESSING, OrderPaymentStatus.PAID)
    assert order.history[-1].by_id == admin.id
    again = client.post(f"{PAYMENTS}{payment['id']}/confirm/", headers=admin_headers)
    assert again.status_code == 409


def test_confirm_without_a_body_and_for_cards(client, customer_headers, admin_headers, placed_order):
    bank = _pay(client, customer_headers, placed_order["id"], "bank_transfer").json
    response = client.post(f"{PAYMENTS}{bank['id']}/confirm/", headers=admin_headers)
    assert response.status_code == 200 and response.json["transaction_id"] == f"manual-{bank['id']}"
    card = PaymentFactory(order=db.session.get(Order, placed_order["id"]), status=PaymentStatus.FAILED)
    refused = client.post(f"{PAYMENTS}{card.id}/confirm/", headers=admin_headers)
    assert refused.status_code == 409 and refused.json["code"] == 409
    assert fresh_payment(card.id).status == PaymentStatus.FAILED
    missing = client.post(f"{PAYMENTS}99999/confirm/", headers=admin_headers)
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_payment_lists_and_details_are_the_owners(client, customer, other_customer, customer_headers, other_headers,
                                                  admin_headers):  # fmt: skip
    mine = PaymentFactory(order=OrderFactory(user_id=customer.id))
    theirs = PaymentFactory(order=OrderFactory(user_id=other_customer.id), status=PaymentStatus.FAILED)

    body = client.get(PAYMENTS, headers=customer_headers).json
    assert body["count"] == 1 and body["results"][0]["id"] == mine.id
    assert client.get(f"{PAYMENTS}{theirs.id}/", headers=customer_headers).status_code == 404
    assert client.get(f"{PAYMENTS}{theirs.id}/", headers=other_headers).status_code == 200
    assert client.get(f"{PAYMENTS}{2**40}/", headers=other_headers).status_code == 404

    everything = client.get(PAYMENTS, headers=admin_headers).json
    assert everything["count"] == 2
    failed = client.get(f"{PAYMENTS}?status=failed", headers=admin_headers).json
    assert [p["id"] for p in failed["results"]] == [theirs.id]
    by_order = client.get(f"{PAYMENTS}?order={mine.order_id}", headers=admin_headers).json
    assert [p["id"] for p in by_order["results"]] == [mine.id]
    assert client.get(f"{PAYMENTS}?status=lost", headers=admin_headers).status_code == 400


def test_payment_list_statement_count_is_fixed(client, customer, customer_headers):
    def statements() -> int:
        with count_queries() as queries:
            assert client.get(PAYMENTS, headers=customer_headers).status_code == 200
        return len(queries)

    PaymentFactory(order=OrderFactory(user_id=customer.id))
    one = statements()
    for _ in range(6):
        PaymentFactory(order=OrderFactory(user_id=customer.id), status=PaymentStatus.FAILED)
    assert statements() == one


def test_processing_a_payment_twice_charges_once(app, client, customer_headers, placed_order):
    from nexus.orders.services import process_payment

    payment_id = _pay(client, customer_headers, placed_order["id"]).json["id"]
    first = _settled(payment_id)
    assert process_payment(payment_id=payment_id) == PaymentStatus.COMPLETED
    again = fresh_payment(payment_id)
    assert again.transaction_id == first.transaction_id and again.updated_at == first.updated_at
    assert process_payment(payment_id=123456) is None
