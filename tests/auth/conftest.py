"""Helpers of the auth tests: registering, signing in, and reading secrets out of the emails sent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

STRONG_PASSWORD = "Velvet-Otter-93"


def register(client, **fields):
    """POST a registration; `fields` override a valid body."""
    body = {"email": "new.shopper@example.com", "password": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    body.update(fields)
    return client.post("/api/auth/registration/", json=body)


def login(client, email: str, password: str):
    return client.post("/api/auth/jwt/create/", json={"email": email, "password": password})


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_in(mail: dict, name: str) -> str:
    """The `key: ...` or `token: ...` line of an email."""
    match = re.search(rf"^{name}: (\S+)$", mail["body"], re.MULTILINE)
    assert match, f"no {name} in {mail['body']!r}"
    return match.group(1)


def make_token(user, *, kind: str = "access", expires: timedelta | None = None, **claims) -> str:
    """A token signed with the app's key, with any expiry or claims (flask-jwt-extended, as the app does)."""
    from flask_jwt_extended import create_access_token, create_refresh_token

    create = create_access_token if kind == "access" else create_refresh_token
    return create(identity=str(user.id), expires_delta=expires, additional_claims={"tv": user.token_version, **claims})


@pytest.fixture
def customer_tokens(client, customer):
    """A real sign-in of `customer`: {"access", "refresh"}."""
    from tests.factories import PASSWORD

    response = login(client, customer.email, PASSWORD)
    assert response.status_code == 200
    return response.json
