"""Celery tasks of the orders domain: thin, they take ids and call a service; each is safe to run twice."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

from nexus.orders.providers import PaymentProviderError

_TRANSIENT = {"autoretry_for": (OperationalError, PaymentProviderError), "retry_backoff": True, "max_retries": 5}


@shared_task(name="orders.process_payment", **_TRANSIENT)
def process_payment_task(payment_id: int) -> str | None:
    from nexus.orders.services import process_payment

    status = process_payment(payment_id=payment_id)
    return status.value if status else None


@shared_task(name="orders.cancel_expired_orders", **_TRANSIENT)
def cancel_expired_orders_task() -> int:
    from nexus.orders.services import cancel_expired_orders

    return cancel_expired_orders()


# It sends the e-mails itself: a failing mail server (OSError, smtplib's errors included) is retried too. It takes
# any number of status changes (`batched`): the outbox sends one task for all those committed together.
@shared_task(
    name="orders.notify_order_status",
    autoretry_for=(OperationalError, OSError),
    retry_backoff=True,
    max_retries=5,
    batched=True,
)
def notify_order_status_task(*history_ids: int) -> int:
    from nexus.orders.services import notify_order_status

    return notify_order_status(history_ids=history_ids)


@shared_task(name="orders.alert_low_stock", **_TRANSIENT)
def alert_low_stock_task(variant_id: int, order_id: int) -> int:
    from nexus.orders.services import alert_low_stock

    return alert_low_stock(variant_id=variant_id, order_id=order_id)
