"""Email verification: the key from the registration email, and resending it."""

import time

import pytest
from itsdangerous.timed import TimestampSigner

from nexus.auth import services
from nexus.auth.models import User
from nexus.extensions import db
from tests.auth.conftest import auth, register, secret_in
from tests.factories import UserFactory
from tests.helpers import assert_error, sent_emails, wait_for

VERIFY = "/api/auth/verify-email/"
RESEND = "/api/auth/resend-email/"


def _registered(client) -> tuple[int, str, str]:
    """A new account: its id, access token and the key from its verification email."""
    response = register(client, email="new.shopper@example.com")
    [mail] = sent_emails(to="new.shopper@example.com")
    return response.json["user"]["id"], response.json["access"], secret_in(mail, "key")


def test_the_key_from_the_registration_email_verifies_the_account(client):
    user_id, access, key = _registered(client)

    response = client.post(VERIFY, json={"key": key})

    assert response.status_code == 200
    assert response.json["detail"]
    assert db.session.get(User, user_id).is_verified is True
    assert client.get("/api/auth/user/", headers=auth(access)).json["is_verified"] is True


def test_verifying_twice_is_harmless(client):
    user_id, _, key = _registered(client)

    assert client.post(VERIFY, json={"key": key}).status_code == 200
    assert client.post(VERIFY, json={"key": key}).status_code == 200
    assert db.session.get(User, user_id).is_verified is True


@pytest.mark.parametrize("key", ["garbage", "x" * 200])
def test_a_bad_key_is_400(client, key):
    assert_error(client.post(VERIFY, json={"key": key}), 400, "key")


def test_a_password_reset_token_is_not_a_verification_key(client, customer):
    token = services.password_reset_token(db.session.get(User, customer.id))

    assert_error(client.post(VERIFY, json={"key": token}), 400, "key")


def test_an_expired_key_is_400(client, monkeypatch):
    user = UserFactory(email="late@example.com")
    issued_long_ago = int(time.time()) - client.application.config["EMAIL_VERIFY_MAX_AGE"] - 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued_long_ago)
    key = services.email_verification_key(user)
    monkeypatch.undo()

    assert_error(client.post(VERIFY, json={"key": key}), 400, "key")
    assert db.session.get(User, user.id).is_verified is False


def test_a_key_for_a_deleted_account_is_400(client):
    user_id, _, key = _registered(client)
    db.session.delete(db.session.get(User, user_id))
    db.session.commit()

    assert_error(client.post(VERIFY, json={"key": key}), 400, "key")


def test_verify_refuses_unknown_fields(client):
    assert_error(client.post(VERIFY, json={"key": "k", "is_verified": True}), 400, "is_verified")


def test_resend_sends_a_new_working_key(client):
    user_id, access, _ = _registered(client)

    response = client.post(RESEND, headers=auth(access))

    assert response.status_code == 200
    assert response.json["detail"] == "Verification email sent."
    assert wait_for(lambda: len(sent_emails(to="new.shopper@example.com", wait=False)) == 2)
    mails = sent_emails(to="new.shopper@example.com")
    assert client.post(VERIFY, json={"key": secret_in(mails[1], "key")}).status_code == 200
    assert db.session.get(User, user_id).is_verified is True


def test_resend_to_a_verified_account_sends_nothing(client, customer, customer_headers):
    response = client.post(RESEND, headers=customer_headers)

    assert response.status_code == 200
    assert response.json["detail"] == "Email address is already verified."
    assert sent_emails(to=customer.email, wait=False) == []


def test_resend_needs_a_token(client):
    assert_error(client.post(RESEND), 401)


def test_resend_is_rate_limited(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_RATE_LIMIT", "1 per minute")
    _, access, _ = _registered(client)

    assert client.post(RESEND, headers=auth(access)).status_code == 200
    assert_error(client.post(RESEND, headers=auth(access)), 429)
