"""Rules of the orders services, checked directly: shipping, transitions, signatures, notifications, providers."""

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from nexus.common.idempotency import request_fingerprint
from nexus.extensions import db
from nexus.orders.exceptions import InvalidSignature
from nexus.orders.models import Order, OrderStatus, OrderStatusHistory, SentNotification
from nexus.orders.providers import PaymentProviderError, TestProvider, get_provider
from nexus.orders.services import (
    alert_low_stock,
    allowed_transitions,
    notify_order_status,
    shipping_cost_for,
    verify_signature,
    webhook_signature,
)
from tests.factories import OrderFactory, OrderItemFactory, UserFactory
from tests.helpers import sent_emails
from tests.orders.conftest import sign


@pytest.mark.parametrize(
    ("subtotal", "shipping"),
    [("0.01", "5.00"), ("99.99", "5.00"), ("100.00", "0.00"), ("250.00", "0.00")],
)
def test_shipping_is_flat_until_the_free_threshold(app, subtotal, shipping):
    cost = shipping_cost_for(Decimal(subtotal))
    assert cost == Decimal(shipping) and isinstance(cost, Decimal)


@pytest.mark.parametrize(
    ("status", "staff", "owner", "expected"),
    [
        (OrderStatus.PENDING, True, False, [OrderStatus.PROCESSING, OrderStatus.CANCELLED]),
        (OrderStatus.PROCESSING, True, False, [OrderStatus.SHIPPED, OrderStatus.CANCELLED]),
        (OrderStatus.SHIPPED, True, False, [OrderStatus.DELIVERED]),
        (OrderStatus.DELIVERED, True, False, []),
        (OrderStatus.CANCELLED, True, False, []),
        (OrderStatus.PENDING, False, True, [OrderStatus.CANCELLED]),
        (OrderStatus.PROCESSING, False, True, []),
        (OrderStatus.PENDING, False, False, []),
    ],
)
def test_allowed_transitions(status, staff, owner, expected):
    assert allowed_transitions(Order(status=status), is_staff=staff, is_owner=owner) == expected


def test_signatures_match_an_independent_computation():
    body, now = b'{"id": "evt_1"}', 1_767_225_600
    assert webhook_signature(body, secret="s3cret", timestamp=now) == sign(body, secret="s3cret", timestamp=now)
    verify_signature(body, sign(body, secret="s3cret", timestamp=now), secret="s3cret", now=now + 300)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=abc", "t=,v1=abc", "t=1767225600", "t=1767225600,v1=", "t=-5,v1=ab", "t=1767225600,v1=ab,v0=x"],
)
def test_malformed_or_wrong_signatures_are_refused(header):
    with pytest.raises(InvalidSignature):
        verify_signature(b"{}", header, secret="s3cret", now=1_767_225_600)


def test_the_tolerance_is_five_minutes_either_way():
    body, now = b"{}", 1_767_225_600
    for offset in (-301, 301):
        with pytest.raises(InvalidSignature, match="tolerance"):
            verify_signature(body, sign(body, secret="s", timestamp=now + offset), secret="s", now=now)
    verify_signature(body, sign(body, secret="s", timestamp=now - 300), secret="s", now=now)
    verify_signature(body, sign(body, secret="s", timestamp=int(time.time())), secret="s")


def test_request_fingerprints_ignore_key_order_and_spacing_only():
    same = request_fingerprint("POST", "/a/", b'{"x": 1, "y": [1, 2]}')
    assert request_fingerprint("POST", "/a/", b'{"y":[1,2],"x":1}') == same
    assert request_fingerprint("POST", "/a/", b'{"y":[2,1],"x":1}') != same
    assert request_fingerprint("POST", "/b/", b'{"x": 1, "y": [1, 2]}') != same
    assert request_fingerprint("POST", "/a/", b"not json") == request_fingerprint("POST", "/a/", b"not json")


def test_the_test_provider():
    provider = get_provider("test")
    assert isinstance(provider, TestProvider)
    ok = provider.charge(payment_id=1, amount=Decimal("1.00"), currency="USD", method="card", card_token="tok_visa")
    assert ok.succeeded and ok.transaction_id.startswith("test_ch_1_")
    declined = provider.charge(
        payment_id=2, amount=Decimal("1.00"), currency="USD", method="card", card_token="tok_chargeDeclined"
    )
    assert not declined.succeeded and declined.failure_reason == "Your card was declined."
    assert provider.refund(payment_id=1, transaction_id="x", amount=Decimal("1.00"), currency="USD").refund_id


def test_an_unknown_provider_is_an_error(app):
    with pytest.raises(PaymentProviderError):
        get_provider("nope")


def test_a_status_email_is_sent_once_however_often_the_task_runs(app):
    user = UserFactory(email="buyer@example.com")
    order = OrderFactory(user_id=user.id, number="NX-2026-000042")
    entry = OrderStatusHistory(order_id=order.id, from_status=OrderStatus.PENDING, to_status=OrderStatus.SHIPPED)
    db.session.add(entry)
    db.session.commit()

    assert notify_order_status(history_ids=[entry.id]) == 1
    assert notify_order_status(history_ids=[entry.id]) == 0
    assert notify_order_status(history_ids=[987654]) == 0

    (mail,) = sent_emails(to="buyer@example.com")
    assert mail["subject"] == "Your order NX-2026-000042 is on its way"
    assert db.session.scalar(select(func.count()).select_from(SentNotification)) == 1


def _new_orders(count: int, *, items: int = 1, email: str = "lines@example.com") -> list[int]:
    """`count` orders of one customer, each with `items` items and its first status change; the changes' ids."""
    user = UserFactory(email=email)
    entries = []
    for position in range(count):
        order = OrderFactory(user_id=user.id, number=f"NX-2026-{700 + position:06d}")
        for number in range(items):
            OrderItemFactory(order=order, product_name=f"Tee {number}")
        entries.append(OrderStatusHistory(order_id=order.id, from_status=None, to_status=OrderStatus.PENDING))
    db.session.add_all(entries)
    db.session.commit()
    ids = [entry.id for entry in entries]
    db.session.remove()
    return ids


@pytest.mark.parametrize(("orders", "items"), [(1, 1), (1, 3), (4, 2)])
def test_order_emails_list_every_item_in_two_statements_whatever_their_number(app, orders, items):
    from tests.helpers import count_queries

    ids = _new_orders(orders, items=items)
    with count_queries() as statements:
        assert notify_order_status(history_ids=ids) == orders
    # The status changes with their orders, customers and items; then the claims. (And the commit.)
    assert [" ".join(s.split()[:2]) for s in statements if not s.startswith("COMMIT")] == [
        "SELECT order_status_history.id,",
        "INSERT INTO",
    ]
    mails = sent_emails(to="lines@example.com", wait=False)
    assert sorted(mail["subject"] for mail in mails) == [
        f"We received your order NX-2026-{700 + position:06d}" for position in range(orders)
    ]
    assert all(f"Tee {number}" in mail["body"] for mail in mails for number in range(items))


def test_a_batch_of_order_emails_sends_each_once_skipping_sent_and_missing_ones(app):
    first, *others = _new_orders(3, email="batch@example.com")
    assert notify_order_status(history_ids=[first]) == 1
    assert notify_order_status(history_ids=[*others, first, 987654, others[0]]) == 2
    assert notify_order_status(history_ids=[first, *others]) == 0
    assert notify_order_status(history_ids=[]) == 0
    assert sorted(mail["subject"][-6:] for mail in sent_emails(to="batch@example.com", wait=False)) == [
        "000700",
        "000701",
        "000702",
    ]
    assert db.session.scalar(select(func.count()).select_from(SentNotification)) == 3


def test_an_email_of_a_batch_that_cannot_be_sent_holds_back_no_other_and_its_retry_sends_it_alone(app, monkeypatch):
    from nexus.orders.services import notifications

    ids = _new_orders(3, email="partial@example.com")
    real_send = notifications.send_mail

    def refuses_the_second(**kwargs):
        if kwargs["subject"].endswith("000701"):
            raise ConnectionRefusedError("mail server refused it")
        real_send(**kwargs)

    monkeypatch.setattr(notifications, "send_mail", refuses_the_second)
    with pytest.raises(OSError):
        notify_order_status(history_ids=ids)
    # The first and the third were sent and stay claimed; the second was released.
    db.session.remove()
    assert sorted(db.session.scalars(select(SentNotification.key)).all()) == [
        f"order-status:{ids[0]}",
        f"order-status:{ids[2]}",
    ]
    assert sorted(mail["subject"][-6:] for mail in sent_emails(to="partial@example.com", wait=False)) == [
        "000700",
        "000702",
    ]

    monkeypatch.setattr(notifications, "send_mail", real_send)
    assert notify_order_status(history_ids=ids) == 1
    mails = sent_emails(to="partial@example.com", wait=False)
    assert sorted(mail["subject"][-6:] for mail in mails) == ["000700", "000701", "000702"]


def test_a_status_email_that_could_not_be_sent_is_sent_by_the_retry(app, monkeypatch):
    from nexus.orders.services import notifications

    user = UserFactory(email="retry@example.com")
    order = OrderFactory(user_id=user.id, number="NX-2026-000043")
    entry = OrderStatusHistory(order_id=order.id, from_status=OrderStatus.PENDING, to_status=OrderStatus.SHIPPED)
    db.session.add(entry)
    db.session.commit()
    real_send = notifications.send_mail

    def mail_server_down(**_kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(notifications, "send_mail", mail_server_down)
    with pytest.raises(OSError):
        notify_order_status(history_ids=[entry.id])
    # Nothing claimed: the task's retry (autoretry_for OSError) must still send it.
    assert db.session.scalar(select(func.count()).select_from(SentNotification)) == 0
    assert sent_emails(to="retry@example.com", wait=False) == []

    monkeypatch.setattr(notifications, "send_mail", real_send)
    assert notify_order_status(history_ids=[entry.id]) == 1
    (mail,) = sent_emails(to="retry@example.com")
    assert mail["subject"] == "Your order NX-2026-000043 is on its way"
    assert db.session.scalar(select(func.count()).select_from(SentNotification)) == 1


def test_a_low_stock_alert_is_sent_once_per_crossing_to_every_active_staff_user(app):
    from tests.factories import VariantFactory

    staff = [UserFactory(is_staff=True).email, UserFactory(is_staff=True).email]
    UserFactory(is_staff=True, is_active=False)
    UserFactory()
    variant = VariantFactory(stock=3)
    variant_id, sku = variant.id, variant.sku

    assert alert_low_stock(variant_id=variant_id, order_id=7) == 2
    assert alert_low_stock(variant_id=variant_id, order_id=7) == 0
    assert alert_low_stock(variant_id=987654, order_id=7) == 0

    for email in staff:
        (mail,) = sent_emails(to=email)
        assert sku in mail["subject"] and "down to 3" in mail["body"]
    assert len(sent_emails(wait=False)) == 2


def test_the_status_email_task_retries_a_failing_mail_server():
    from nexus.orders.tasks import notify_order_status_task

    assert OSError in notify_order_status_task.autoretry_for  # smtplib's errors are OSErrors
