"""JWT issuing, revocation and the flask-jwt-extended callbacks that keep every token failure a 401."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, request
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from nexus.auth.models import RevokedToken, User
from nexus.common.errors import error_response
from nexus.extensions import db, jwt

_USER_KEY = "nexus.token_user"


def issue_tokens(user: User) -> dict[str, str]:
    """A new access and refresh pair; identities are strings, the token version ties them to the password."""
    claims = {"tv": user.token_version}
    identity = str(user.id)
    return {
        "access": create_access_token(identity=identity, additional_claims=claims),
        "refresh": create_refresh_token(identity=identity, additional_claims=claims),
    }


def add_revocation(payload: dict) -> bool:
    """Record a token as revoked until it expires. False when it was revoked already (a race lost)."""
    values = {
        "jti": payload["jti"],
        "token_type": payload.get("type", "access"),
        "user_id": int(payload["sub"]) if str(payload.get("sub", "")).isdigit() else None,
        "expires_at": datetime.fromtimestamp(payload["exp"], UTC),
        "revoked_at": datetime.now(UTC),
    }
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    result = db.session.execute(insert(RevokedToken).values(**values).on_conflict_do_nothing(index_elements=["jti"]))
    return result.rowcount == 1


def is_revoked(jti: str) -> bool:
    return db.session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti)) is not None


def _token_user(payload: dict) -> User | None:
    """The active user a token speaks for, loaded once a request."""
    cached = request.environ.get(_USER_KEY)
    if cached is not None and cached[0] == payload["jti"]:
        return cached[1]
    sub = payload.get("sub")
    user = db.session.get(User, int(sub)) if isinstance(sub, str) and sub.isdigit() else None
    if user is not None and (not user.is_active or payload.get("tv") != user.token_version):
        user = None
    request.environ[_USER_KEY] = (payload["jti"], user)
    return user


def init_jwt(app: Flask) -> None:
    @jwt.token_in_blocklist_loader
    def _blocked(_header, payload):
        # Fail closed: any error here propagates and the request is refused, never let through.
        return _token_user(payload) is None or is_revoked(payload["jti"])

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        return _token_user(payload)

    def _unauthorized(message: str):
        return error_response(401, message, headers={"WWW-Authenticate": "Bearer"})

    jwt.unauthorized_loader(lambda reason: _unauthorized(f"Authentication required: {reason}."))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}."))
    jwt.expired_token_loader(lambda _h, _p: _unauthorized("Token has expired."))
    jwt.revoked_token_loader(lambda _h, _p: _unauthorized("Token has been revoked."))
    jwt.user_lookup_error_loader(lambda _h, _p: _unauthorized("User not found or inactive."))
    jwt.token_verification_failed_loader(lambda _h, _p: _unauthorized("Token verification failed."))
    jwt.needs_fresh_token_loader(lambda _h, _p: _unauthorized("Fresh token required."))
