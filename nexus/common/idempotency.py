"""Idempotency-Key for POST routes: a retried request returns the first response and does nothing again.

A key is scoped to its user. The first request with a key claims it (a row committed before the work
starts, so a concurrent retry sees it); a successful answer is stored on the row, and a retry with the same
key and the same request gets it back with `Idempotent-Replayed: true`. The same key with a different
request, or while the first is still running, is refused with 409. A request that fails (validation,
conflict, error) changed nothing, so its claim is released and the key may be used again. Keys are kept
IDEMPOTENCY_KEY_TTL_HOURS (24 by default) and purged by a periodic task.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from functools import wraps

import flask_smorest
from flask import Response, current_app, make_response, request
from flask_jwt_extended import current_user
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from nexus.common import outbox
from nexus.common.errors import Conflict, ValidationFailed
from nexus.common.models import UTCDateTime, upsert_insert, utcnow
from nexus.extensions import db

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
IN_PROGRESS = "in_progress"
DONE = "done"
# A claim still in progress after this long belongs to a request that died (no request runs this long).
ABANDONED_AFTER = timedelta(minutes=5)

# OpenAPI: the request header, and the header a replayed answer carries (for @blp.response(headers=...)).
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": (
        "Makes the request safe to retry: a retry with the same key and body returns the first response "
        "(with `Idempotent-Replayed: true`) and does nothing again. The same key with a different body, or "
        "while the first request is still running, answers 409. Keys are scoped to the user and kept at "
        "least 24 hours. A request that failed did nothing and releases its key."
    ),
}
REPLAYED_HEADER_DOC = {
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


class IdempotencyKeyReused(Conflict):
    message = "This Idempotency-Key was already used for a different request."


class IdempotencyKeyInProgress(Conflict):
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), nullable=False)
    # sha256 of method, path and canonical body: what "the same request" means.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=IN_PROGRESS)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """The same JSON with keys in another order or other spacing is the same request."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


def _insert_claim(*, user_id: int, key: str, fingerprint: str) -> bool:
    now = utcnow()
    stmt = (
        upsert_insert(IdempotencyKey)
        .values(
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            status=IN_PROGRESS,
            created_at=now,
            expires_at=now + timedelta(hours=current_app.config["IDEMPOTENCY_KEY_TTL_HOURS"]),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
    )
    return db.session.execute(stmt).rowcount == 1


def claim_key(*, user_id: int, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Claim the key for a new request (None), or return the finished record to replay.

    Raises IdempotencyKeyReused for another request under the key, IdempotencyKeyInProgress while the first
    one runs. An expired or abandoned record is replaced.
    """
    for _ in range(2):
        if _insert_claim(user_id=user_id, key=key, fingerprint=fingerprint):
            outbox.commit()
            return None
        record = db.session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        if record is None:  # released meanwhile: claim again
            continue
        now = utcnow()
        stale = record.expires_at <= now or (
            record.status == IN_PROGRESS and record.created_at <= now - ABANDONED_AFTER
        )
        if stale:
            db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
            continue
        outbox.rollback()
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if record.status != DONE:
            raise IdempotencyKeyInProgress()
        return record
    outbox.rollback()
    raise IdempotencyKeyInProgress()


def complete_key(*, user_id: int, key: str, status: int, body: str) -> None:
    """Store the answer to replay."""
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(status=DONE, response_status=status, response_body=body)
    )
    outbox.commit()


def release_key(*, user_id: int, key: str) -> None:
    """Forget the claim of a request that failed: it did nothing, so a retry may run."""
    outbox.rollback()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.status == IN_PROGRESS
        )
    )
    outbox.commit()


def purge_expired_keys(*, now: datetime | None = None) -> int:
    """Delete keys past their time to live; returns how many went."""
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow())))
    outbox.commit()
    return result.rowcount


def _replay(record: IdempotencyKey) -> Response:
    return Response(
        record.response_body,
        status=record.response_status,
        mimetype="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


def idempotent(view):
    """Honour `Idempotency-Key` on a view; put it below @blp.login_required() and above @blp.arguments."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.")
        user_id = current_user.id
        fingerprint = request_fingerprint(request.method, request.path, request.get_data())
        record = claim_key(user_id=user_id, key=key, fingerprint=fingerprint)
        if record is not None:
            return _replay(record)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            release_key(user_id=user_id, key=key)
            raise
        try:
            if 200 <= response.status_code < 300:
                complete_key(
                    user_id=user_id, key=key, status=response.status_code, body=response.get_data(as_text=True)
                )
            else:
                release_key(user_id=user_id, key=key)
        except Exception:
            # The work is done and committed: its answer must reach the client even if the key cannot be
            # updated (a retry then meets the claim, 409, until it is abandoned).
            log.exception("could not record the outcome of Idempotency-Key %r", key)
        return response

    return flask_smorest.Blueprint.doc(parameters=[HEADER_DOC])(wrapper)
