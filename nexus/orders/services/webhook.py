"""The payment provider's webhook: signed events, each applied once however often it is delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from flask import current_app
from sqlalchemy import update

from nexus.common import outbox
from nexus.common.errors import ValidationFailed
from nexus.common.models import upsert_insert
from nexus.extensions import db
from nexus.orders.exceptions import InvalidSignature
from nexus.orders.models import PaymentStatus, WebhookEvent
from nexus.orders.services.payments import complete_payment, fail_payment, lock_payment

SIGNATURE_HEADER = "X-Nexus-Signature"
TOLERANCE_SECONDS = 300
SUCCEEDED = "payment.succeeded"
FAILED = "payment.failed"


def webhook_signature(payload: bytes, *, secret: str, timestamp: int) -> str:
    """The `X-Nexus-Signature` value for a body: `t=<unix time>,v1=<HMAC-SHA256 of "<t>." + body>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(payload: bytes, header: str | None, *, secret: str, now: float | None = None) -> None:
    """Raise InvalidSignature unless one v1 signature matches and t is within the tolerance of now."""
    if not header:
        raise InvalidSignature(f"Missing {SIGNATURE_HEADER} header.")
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature(f"Malformed {SIGNATURE_HEADER} header.")
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("The signature's timestamp is outside the tolerance (5 minutes).")
    expected = webhook_signature(payload, secret=secret, timestamp=timestamp).partition(",v1=")[2]
    # Every candidate is compared in constant time, and all of them, so timing says nothing about which.
    matches = [hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature()


def _parse(payload: bytes) -> dict:
    try:
        event = json.loads(payload)
    except ValueError:
        raise ValidationFailed("The event is not valid JSON.") from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and 0 < len(event["type"]) <= 100
        and isinstance(event.get("data", {}), dict)
    ):
        raise ValidationFailed("An event needs a string `id` and `type`, and an object `data`.")
    return event


def handle_payment_webhook(*, payload: bytes, signature: str | None) -> dict:
    """Verify, record and apply a provider event: {id, status: processed | duplicate | ignored}."""
    verify_signature(payload, signature, secret=current_app.config["PAYMENT_WEBHOOK_SECRET"])
    event = _parse(payload)
    provider = current_app.config["PAYMENT_PROVIDER"]
    try:
        # The unique (provider, event id) admits the event once; a concurrent copy waits here, then sees it.
        row_id = db.session.scalar(
            upsert_insert(WebhookEvent)
            .values(provider=provider, event_id=event["id"], type=event["type"], payload=event, outcome="received")
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(WebhookEvent.id)
        )
        if row_id is None:
            outbox.rollback()
            return {"id": event["id"], "status": "duplicate"}
        outcome = _apply(event)
        db.session.execute(update(WebhookEvent).where(WebhookEvent.id == row_id).values(outcome=outcome))
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return {"id": event["id"], "status": outcome}


def _apply(event: dict) -> str:
    data = event.get("data") or {}
    payment_id = data.get("payment_id")
    if event["type"] not in (SUCCEEDED, FAILED) or not isinstance(payment_id, int) or isinstance(payment_id, bool):
        return "ignored"
    found = lock_payment(payment_id)
    if found is None:
        return "ignored"
    order, payment = found
    if payment.status != PaymentStatus.PENDING:
        return "ignored"
    if event["type"] == SUCCEEDED:
        transaction_id = data.get("transaction_id")
        transaction_id = transaction_id[:255] if isinstance(transaction_id, str) and transaction_id else None
        complete_payment(payment, order, transaction_id=transaction_id or f"webhook-{event['id'][:240]}", by_id=None)
    else:
        reason = data.get("failure_reason")
        fail_payment(payment, reason if isinstance(reason, str) and reason else "The payment failed.")
    return "processed"
