"""POST /api/auth/registration/: accounts, password rules, and the verification email."""

import pytest
from sqlalchemy import func, select

from nexus.auth.models import User
from nexus.extensions import db
from tests.auth.conftest import STRONG_PASSWORD, auth, register, secret_in
from tests.helpers import assert_error, sent_emails

USER_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "is_verified",
    "is_staff",
    "date_joined",
    "updated_at",
}


def _user_count() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(User))


def test_registration_creates_the_user_signs_it_in_and_sends_a_verification_email(client):
    response = register(
        client, email="  Mia.Rossi@Example.COM ", first_name="Mia", last_name="Rossi", phone_number="+39 055 123456"
    )

    assert response.status_code == 201
    body = response.json
    assert set(body) == {"user", "access", "refresh"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == "mia.rossi@example.com"
    assert body["user"]["first_name"] == "Mia"
    assert body["user"]["phone_number"] == "+39 055 123456"
    assert body["user"]["is_verified"] is False
    assert body["user"]["is_staff"] is False
    assert body["user"]["date_joined"].endswith("+00:00")
    assert body["user"]["updated_at"] == body["user"]["date_joined"]
    user = db.session.get(User, body["user"]["id"])
    assert user.email == "mia.rossi@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert STRONG_PASSWORD not in user.password_hash
    assert client.get("/api/auth/user/", headers=auth(body["access"])).json["id"] == user.id
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": body["refresh"]}).status_code == 200
    [mail] = sent_emails(to="mia.rossi@example.com")
    assert mail["subject"] == "Confirm your email address"
    assert secret_in(mail, "key")


def test_optional_fields_default_to_empty(client):
    response = register(client)

    assert response.status_code == 201
    assert response.json["user"]["first_name"] == ""
    assert response.json["user"]["phone_number"] == ""


def test_an_email_taken_in_another_case_is_refused(client, customer):
    response = register(client, email="CUSTOMER@Example.com")

    assert_error(response, 400, "email")
    assert "already exists" in response.json["errors"]["json"]["email"][0]
    assert _user_count() == 1
    assert sent_emails(to="customer@example.com", wait=False) == []


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1-xyz", "too short"),
        ("8302749163", "entirely numeric"),
        ("password123", "too common"),
        ("Qwerty123", "too common"),
        ("mia.rossi.99", "too similar"),
        ("Rossi-Family", "too similar"),
    ],
)
def test_weak_passwords_are_refused(client, password, reason):
    response = register(client, email="mia.rossi@example.com", last_name="Rossi", password=password, password2=password)

    assert_error(response, 400, "password")
    assert any(reason in message for message in response.json["errors"]["json"]["password"])
    assert _user_count() == 0


def test_mismatched_passwords_are_refused(client):
    response = register(client, password2=STRONG_PASSWORD + "!")

    assert_error(response, 400, "password2")
    assert "password" not in response.json["errors"]["json"]
    assert _user_count() == 0


def test_every_problem_is_reported_at_once(client, customer):
    response = register(client, email="customer@example.com", password="short", password2="other")

    assert_error(response, 400, "email", "password", "password2")


@pytest.mark.parametrize(
    "extra", [{"is_staff": True}, {"is_verified": True}, {"id": 99}, {"is_active": False}, {"token_version": 5}]
)
def test_read_only_and_unknown_fields_are_refused_and_nothing_is_created(client, extra):
    response = register(client, email="mallory@example.com", **extra)

    assert_error(response, 400, next(iter(extra)))
    assert _user_count() == 0
    assert sent_emails(to="mallory@example.com", wait=False) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"phone_number": "call me maybe"}, "phone_number"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"password": None}, "password"),
        ({"password": "x" * 300, "password2": "x" * 300}, "password"),
        ({"email": 12}, "email"),
    ],
)
def test_invalid_input_is_400_with_the_field(client, fields, field):
    assert_error(register(client, **fields), 400, field)
    assert _user_count() == 0


def test_missing_fields_are_named(client):
    response = client.post("/api/auth/registration/", json={})

    assert_error(response, 400, "email", "password", "password2")


@pytest.mark.parametrize("body", [None, "[]", "not json"])
def test_a_body_that_is_not_an_object_is_400(client, body):
    response = client.post("/api/auth/registration/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == 400
