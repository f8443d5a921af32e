"""JWT issuing, decoding and revocation, and the flask-jwt-extended callbacks that keep every token failure a 401.

Revocations live in the database, which every app instance and worker shares and which survives a Redis
outage. Every authenticated request runs one statement that loads the token's user and whether the token was
revoked; when that statement fails, the request fails (503), it is never let through: revocation fails closed.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import NamedTuple

from flask import Flask, request
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import ExpiredSignatureError, PyJWTError
from sqlalchemy import bindparam, delete, select

from nexus.auth.exceptions import InvalidToken
from nexus.auth.models import RevokedToken, User
from nexus.common.database import PREPARED, run
from nexus.common.errors import error_response
from nexus.common.models import upsert_insert, utcnow
from nexus.extensions import db, jwt

_USER_KEY = "nexus.token_user"
MAX_ID = 2**31 - 1  # users.id is a 32-bit integer on PostgreSQL


def issue_tokens(user: User | SignedIn) -> dict[str, str]:
    """A new access and refresh pair; identities are strings, the token version ties them to the password."""
    claims = {"tv": user.token_version}
    identity = str(user.id)
    return {
        "access": create_access_token(identity=identity, additional_claims=claims),
        "refresh": create_refresh_token(identity=identity, additional_claims=claims),
    }


def decode(token: str, *, token_type: str | None = None) -> dict:
    """The verified claims of a token handed over in a request body; InvalidToken for anything wrong with it.

    Signature, algorithm (HS256 only, so `alg: none` is refused), expiry and type are checked here; whether it
    was revoked or its user is gone is `token_user`'s job.
    """
    try:
        payload = decode_token(token)
    except ExpiredSignatureError as exc:
        raise InvalidToken("Token has expired.") from exc
    except (PyJWTError, JWTExtendedException, ValueError) as exc:
        raise InvalidToken(f"Invalid token: {exc}.") from exc
    if not isinstance(payload.get("jti"), str) or not isinstance(payload.get("exp"), int | float):
        raise InvalidToken("Invalid token: missing claims.")
    if token_type is not None and payload.get("type") != token_type:
        raise InvalidToken(f"Invalid token: a {token_type} token is required.")
    return payload


class SignedIn(NamedTuple):
    """The user a token speaks for, as requests use them (`current_user`): a row, not an ORM object (every
    authenticated request loads one). Everything the user's own answer shows, never the password."""

    id: int
    email: str
    first_name: str
    last_name: str
    phone_number: str
    is_active: bool
    is_staff: bool
    is_verified: bool
    token_version: int
    date_joined: datetime
    updated_at: datetime


@functools.cache
def _user_and_revocation():
    """The user's columns of SignedIn and whether the token is revoked, in one statement; built once (every
    authenticated request runs it), on first use."""
    users = User.__table__
    columns = [users.c.created_at if name == "date_joined" else users.c[name] for name in SignedIn._fields]
    revoked = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("p_jti")).exists()
    return select(*columns, revoked).where(users.c.id == bindparam("p_user")).execution_options(**PREPARED)


def token_user(payload: dict) -> SignedIn | None:
    """The active user a token speaks for; None when the token was revoked, predates a password change, or its
    user is gone or inactive. One statement."""
    user_id = subject_id(payload)
    if user_id is None or not isinstance(payload.get("jti"), str):
        return None
    rows = run(_user_and_revocation(), {"p_user": user_id, "p_jti": payload["jti"]})
    if not rows:
        return None
    *columns, is_revoked = rows[0]
    user = SignedIn(*columns)
    if is_revoked or not user.is_active or payload.get("tv") != user.token_version:
        return None
    return user


def subject_id(payload: dict) -> int | None:
    """The user id a token names, when it is one (a string of digits within the id column's range)."""
    sub = payload.get("sub")
    if isinstance(sub, str) and sub.isascii() and sub.isdigit() and 0 < int(sub) <= MAX_ID:
        return int(sub)
    return None


def add_revocation(payload: dict) -> bool:
    """Record a token as revoked until it expires. False when it was revoked already (a race lost)."""
    values = {
        "jti": payload["jti"],
        "token_type": payload.get("type", "access"),
        "user_id": subject_id(payload),
        "expires_at": datetime.fromtimestamp(payload["exp"], UTC),
        "revoked_at": datetime.now(UTC),
    }
    result = db.session.execute(
        upsert_insert(RevokedToken).values(**values).on_conflict_do_nothing(index_elements=["jti"])
    )
    return result.rowcount == 1


def delete_expired_revocations() -> int:
    """Forget revocations of tokens that have expired anyway (they are refused for their expiry now)."""
    return db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow())).rowcount


def _request_user(payload: dict) -> SignedIn | None:
    """`token_user`, run once a request: the blocklist and user loaders both ask."""
    cached = request.environ.get(_USER_KEY)
    if cached is not None and cached[0] == payload.get("jti"):
        return cached[1]
    user = token_user(payload)
    request.environ[_USER_KEY] = (payload.get("jti"), user)
    return user


def init_jwt(app: Flask) -> None:
    @jwt.token_in_blocklist_loader
    def _blocked(_header, payload):
        # Fail closed: any error here propagates and the request is refused, never let through.
        return _request_user(payload) is None

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        return _request_user(payload)

    def _unauthorized(message: str):
        return error_response(401, message, headers={"WWW-Authenticate": "Bearer"})

    jwt.unauthorized_loader(lambda reason: _unauthorized(f"Authentication required: {reason}."))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}."))
    jwt.expired_token_loader(lambda _h, _p: _unauthorized("Token has expired."))
    jwt.revoked_token_loader(lambda _h, _p: _unauthorized("Token has been revoked, or its user is no longer active."))
    jwt.user_lookup_error_loader(lambda _h, _p: _unauthorized("User not found or inactive."))
    jwt.token_verification_failed_loader(lambda _h, _p: _unauthorized("Token verification failed."))
    jwt.needs_fresh_token_loader(lambda _h, _p: _unauthorized("Fresh token required."))
