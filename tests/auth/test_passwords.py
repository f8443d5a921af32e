"""Password change, and the reset flow: request, email, confirm; single use, expiry, no enumeration."""

import time

import pytest
from itsdangerous.timed import TimestampSigner

from nexus.auth import services
from nexus.auth.models import User
from nexus.extensions import db
from tests.auth.conftest import auth, login, secret_in
from tests.factories import PASSWORD, UserFactory
from tests.helpers import assert_error, sent_emails

CHANGE = "/api/auth/password/change/"
RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
# Not like any name Faker gives a UserFactory (with "Amber" in it, one run in a few hundred refused it as too
# similar to the name).
NEW = "Quartz-Kettle-91"


def _change(client, token, old=PASSWORD, new=NEW, new2=None):
    body = {"old_password": old, "new_password": new, "new_password2": new if new2 is None else new2}
    return client.post(CHANGE, headers=auth(token), json=body)


def _reset_token(client, email: str) -> str:
    assert client.post(RESET, json={"email": email}).status_code == 200
    [mail] = sent_emails(to=email.lower())
    assert mail["subject"] == "Reset your password"
    return secret_in(mail, "token")


def _confirm(client, token, new=NEW, new2=None):
    return client.post(
        CONFIRM, json={"token": token, "new_password": new, "new_password2": new if new2 is None else new2}
    )


# -- change ---------------------------------------------------------------------------------------------


def test_change_sets_the_password_revokes_older_tokens_and_returns_a_new_pair(client, customer, customer_tokens):
    response = _change(client, customer_tokens["access"])

    assert response.status_code == 200
    assert set(response.json) == {"detail", "access", "refresh"}
    assert_error(client.get("/api/auth/user/", headers=auth(customer_tokens["access"])), 401)
    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}), 401)
    assert client.get("/api/auth/user/", headers=auth(response.json["access"])).status_code == 200
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": response.json["refresh"]}).status_code == 200
    assert login(client, customer.email, PASSWORD).status_code == 401
    assert login(client, customer.email, NEW).status_code == 200
    assert db.session.get(User, customer.id).token_version == customer.token_version + 1


def test_change_with_a_wrong_old_password_is_400_and_changes_nothing(client, customer, customer_tokens):
    response = _change(client, customer_tokens["access"], old="Not-The-Password-1")

    assert_error(response, 400, "old_password")
    assert client.get("/api/auth/user/", headers=auth(customer_tokens["access"])).status_code == 200
    assert login(client, customer.email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("new", "new2", "field"),
    [
        ("short", None, "new_password"),
        ("12345678901", None, "new_password"),
        ("letmein1", None, "new_password"),
        ("customer-2024", None, "new_password"),
        (NEW, NEW + "x", "new_password2"),
    ],
)
def test_change_to_a_weak_or_mismatched_password_is_400(client, customer, customer_tokens, new, new2, field):
    response = _change(client, customer_tokens["access"], new=new, new2=new2)

    assert_error(response, 400, field)
    assert login(client, customer.email, PASSWORD).status_code == 200


def test_change_needs_a_token_and_refuses_unknown_fields(client, customer_tokens):
    assert_error(client.post(CHANGE, json={}), 401)
    body = {"old_password": PASSWORD, "new_password": NEW, "new_password2": NEW, "is_staff": True}
    assert_error(client.post(CHANGE, headers=auth(customer_tokens["access"]), json=body), 400, "is_staff")


# -- reset ----------------------------------------------------------------------------------------------


def test_reset_end_to_end(client, customer, customer_tokens):
    token = _reset_token(client, "Customer@Example.com")

    response = _confirm(client, token)

    assert response.status_code == 200
    assert response.json["detail"]
    assert login(client, customer.email, NEW).status_code == 200
    assert login(client, customer.email, PASSWORD).status_code == 401
    assert_error(client.get("/api/auth/user/", headers=auth(customer_tokens["access"])), 401)
    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}), 401)


def test_a_reset_token_works_once(client, customer):
    token = _reset_token(client, customer.email)
    assert _confirm(client, token).status_code == 200

    again = _confirm(client, token, new="Second-Choice-77")

    assert_error(again, 400, "token")
    assert login(client, customer.email, NEW).status_code == 200


def test_a_reset_token_dies_when_the_password_changes_otherwise(client, customer, customer_tokens):
    token = _reset_token(client, customer.email)
    assert _change(client, customer_tokens["access"]).status_code == 200

    assert_error(_confirm(client, token, new="Second-Choice-77"), 400, "token")
    assert login(client, customer.email, NEW).status_code == 200


def test_an_expired_reset_token_is_400(client, customer, monkeypatch):
    issued_long_ago = int(time.time()) - client.application.config["PASSWORD_RESET_MAX_AGE"] - 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued_long_ago)
    token = services.password_reset_token(db.session.get(User, customer.id))
    monkeypatch.undo()

    assert_error(_confirm(client, token), 400, "token")
    assert login(client, customer.email, PASSWORD).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "eyJ1aWQiOjF9.ZZZZZZ.ZZZZZZZZZZZZZZZZZZZZZZZZZZZ"])
def test_a_forged_reset_token_is_400(client, customer, token):
    assert_error(_confirm(client, token), 400, "token")


def test_a_tampered_reset_token_is_400(client, customer):
    token = services.password_reset_token(db.session.get(User, customer.id))
    payload, rest = token.split(".", 1)

    assert_error(_confirm(client, payload[:-2] + "AA." + rest), 400, "token")


def test_a_weak_new_password_keeps_the_token_usable(client, customer):
    token = _reset_token(client, customer.email)

    assert_error(_confirm(client, token, new="password"), 400, "new_password")
    assert_error(_confirm(client, token, new2=NEW + "!"), 400, "new_password2")
    assert _confirm(client, token).status_code == 200


def test_reset_marks_the_address_verified(client):
    user = UserFactory(email="unverified@example.com", is_verified=False)

    assert _confirm(client, _reset_token(client, user.email)).status_code == 200

    assert db.session.get(User, user.id).is_verified is True


def test_reset_does_not_reveal_whether_an_account_exists(client, customer):
    UserFactory(email="inactive@example.com", is_active=False)

    unknown = client.post(RESET, json={"email": "nobody@example.com"})
    inactive = client.post(RESET, json={"email": "inactive@example.com"})
    known = client.post(RESET, json={"email": customer.email})

    assert unknown.status_code == inactive.status_code == known.status_code == 200
    assert unknown.json == inactive.json == known.json
    assert sent_emails(to=customer.email)  # waits for the worker in the real-services run
    assert sent_emails(to="nobody@example.com", wait=False) == []
    assert sent_emails(to="inactive@example.com", wait=False) == []


def test_reset_requests_are_rate_limited(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_RATE_LIMIT", "2 per minute")

    responses = [client.post(RESET, json={"email": "nobody@example.com"}) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert_error(responses[2], 429)


def test_reset_refuses_bad_input(client):
    assert_error(client.post(RESET, json={"email": "not-an-email"}), 400, "email")
    assert_error(client.post(RESET, json={"email": "a@example.com", "user": 1}), 400, "user")
    assert_error(client.post(CONFIRM, json={"new_password": NEW}), 400, "token", "new_password2")
    assert sent_emails(to="a@example.com", wait=False) == []
