"""JWT endpoints: create (sign in), refresh (rotation), verify, logout, and every way a token can be bad."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import select

from nexus.auth.models import RevokedToken, User
from nexus.extensions import db
from tests.auth.conftest import auth, login, make_token
from tests.conftest import TEST_ENV
from tests.factories import PASSWORD, UserFactory
from tests.helpers import assert_error

ME = "/api/auth/user/"


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def _unsigned(claims: dict) -> str:
    """An `alg: none` token: no signature at all."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# -- create ---------------------------------------------------------------------------------------------


def test_sign_in_returns_a_pair_and_the_email_is_case_insensitive(client, customer):
    response = login(client, "  Customer@EXAMPLE.com", PASSWORD)

    assert response.status_code == 200
    assert set(response.json) == {"access", "refresh"}
    access, refresh = _claims(response.json["access"]), _claims(response.json["refresh"])
    assert access["sub"] == str(customer.id) and access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["exp"] - access["iat"] == 30 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
    assert client.get(ME, headers=auth(response.json["access"])).json["email"] == "customer@example.com"
    assert db.session.get(User, customer.id).last_login is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [("customer@example.com", "Wrong-Password-1"), ("nobody@example.com", PASSWORD), ("customer@example.com", "")],
)
def test_wrong_credentials_are_401_and_say_the_same_thing(client, customer, email, password):
    response = login(client, email, password)

    if password == "":
        assert_error(response, 400, "password")
        return
    assert_error(response, 401)
    assert response.json["message"] == "No active account found with the given credentials."


def test_an_inactive_user_cannot_sign_in(client):
    UserFactory(email="gone@example.com", is_active=False)

    response = login(client, "gone@example.com", PASSWORD)

    assert_error(response, 401)
    assert response.json["message"] == "No active account found with the given credentials."


def test_repeated_failed_sign_ins_are_rate_limited_in_the_error_shape(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")

    statuses = [login(client, customer.email, "Wrong-Password-1").status_code for _ in range(3)]
    blocked = login(client, customer.email, PASSWORD)

    assert statuses == [401, 401, 401]
    assert_error(blocked, 429)
    assert blocked.json["status"] == "Too Many Requests"
    assert "3 per 1 minute" in blocked.json["message"]
    assert int(blocked.headers["Retry-After"]) > 0


def test_successful_sign_ins_do_not_use_up_the_limit(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")

    assert [login(client, customer.email, PASSWORD).status_code for _ in range(4)] == [200] * 4


# -- refresh --------------------------------------------------------------------------------------------


def test_refresh_rotates_the_pair_and_the_old_refresh_token_works_once(client, customer, customer_tokens):
    response = client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]})

    assert response.status_code == 200
    assert set(response.json) == {"access", "refresh"}
    assert response.json["refresh"] != customer_tokens["refresh"]
    assert client.get(ME, headers=auth(response.json["access"])).status_code == 200
    reused = client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]})
    assert_error(reused, 401)
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": response.json["refresh"]}).status_code == 200


def test_the_revocation_of_a_refresh_token_lasts_until_it_expires(client, customer_tokens):
    client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]})

    claims = _claims(customer_tokens["refresh"])
    row = db.session.get(RevokedToken, claims["jti"])
    assert row.token_type == "refresh"
    assert row.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    assert row.expires_at > datetime.now(UTC) + timedelta(days=6)


def test_an_access_token_offered_as_refresh_is_401(client, customer_tokens):
    response = client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["access"]})

    assert_error(response, 401)
    assert db.session.scalar(select(RevokedToken)) is None


def test_a_refresh_token_offered_as_access_is_401_not_422(client, customer_tokens):
    assert_error(client.get(ME, headers=auth(customer_tokens["refresh"])), 401)


def test_an_expired_refresh_token_is_401(client, customer):
    token = make_token(customer, kind="refresh", expires=timedelta(seconds=-1))

    response = client.post("/api/auth/jwt/refresh/", json={"refresh": token})

    assert_error(response, 401)
    assert "expired" in response.json["message"]


def test_refresh_for_an_inactive_user_is_401(client, customer, customer_tokens):
    db.session.get(User, customer.id).is_active = False
    db.session.commit()

    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}), 401)


def test_refresh_needs_the_token(client):
    assert_error(client.post("/api/auth/jwt/refresh/", json={}), 400, "refresh")


# -- bad tokens on protected endpoints --------------------------------------------------------------------


def _bad_tokens(user) -> dict[str, str]:
    claims = {"sub": str(user.id), "type": "access", "jti": "x", "tv": 0, "exp": 4102444800, "fresh": False}
    return {
        "malformed": "not-a-jwt",
        "truncated": make_token(user)[:-10],
        "alg none": _unsigned(claims),
        "other key": pyjwt.encode(claims, "another-secret-of-at-least-32-bytes!!", algorithm="HS256"),
        "HS512": pyjwt.encode(claims, TEST_ENV["JWT_SECRET_KEY"] + "-" * 40, algorithm="HS512"),
        "expired": make_token(user, expires=timedelta(seconds=-1)),
        "integer subject": pyjwt.encode({**claims, "sub": user.id}, TEST_ENV["JWT_SECRET_KEY"], algorithm="HS256"),
        "no jti": pyjwt.encode(
            {k: v for k, v in claims.items() if k != "jti"}, TEST_ENV["JWT_SECRET_KEY"], algorithm="HS256"
        ),
        "old version": make_token(user, tv=user.token_version - 1),
        "huge subject": pyjwt.encode({**claims, "sub": "9" * 30}, TEST_ENV["JWT_SECRET_KEY"], algorithm="HS256"),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "malformed",
        "truncated",
        "alg none",
        "other key",
        "HS512",
        "expired",
        "integer subject",
        "huge subject",
        "no jti",
        "old version",
    ],
)
def test_every_bad_token_is_401_everywhere(client, customer, kind):
    token = _bad_tokens(customer)[kind]

    assert_error(client.get(ME, headers=auth(token)), 401)
    assert_error(client.post("/api/auth/jwt/verify/", json={"token": token}), 401)
    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": token}), 401)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Token abc", "Bearer a b", "bearer x.y.z", "Bearer \u00e9\u00e9.x.y"]
)
def test_missing_or_malformed_authorization_headers_are_401(client, customer, header):
    headers = {} if header is None else {"Authorization": header}

    response = client.get(ME, headers=headers)

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_token_of_a_deleted_user_is_401(client, customer, customer_tokens):
    db.session.delete(db.session.get(User, customer.id))
    db.session.commit()

    assert_error(client.get(ME, headers=auth(customer_tokens["access"])), 401)
    assert_error(client.post("/api/auth/jwt/verify/", json={"token": customer_tokens["access"]}), 401)
    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}), 401)


def test_the_token_of_an_inactive_user_is_401(client, customer, customer_tokens):
    db.session.get(User, customer.id).is_active = False
    db.session.commit()

    assert_error(client.get(ME, headers=auth(customer_tokens["access"])), 401)


# -- verify ---------------------------------------------------------------------------------------------


def test_verify_accepts_valid_access_and_refresh_tokens(client, customer_tokens):
    for token in customer_tokens.values():
        response = client.post("/api/auth/jwt/verify/", json={"token": token})
        assert response.status_code == 200
        assert response.json == {}


def test_verify_refuses_a_revoked_token(client, customer_tokens):
    client.post(
        "/api/auth/logout/", headers=auth(customer_tokens["access"]), json={"refresh": customer_tokens["refresh"]}
    )

    for token in customer_tokens.values():
        assert_error(client.post("/api/auth/jwt/verify/", json={"token": token}), 401)


def test_verify_needs_the_token(client):
    assert_error(client.post("/api/auth/jwt/verify/", json={"token": ""}), 400, "token")


# -- logout ---------------------------------------------------------------------------------------------


def test_logout_revokes_the_access_token_and_the_refresh_token(client, customer_tokens):
    response = client.post(
        "/api/auth/logout/", headers=auth(customer_tokens["access"]), json={"refresh": customer_tokens["refresh"]}
    )

    assert response.status_code == 204
    assert response.data == b""
    assert_error(client.get(ME, headers=auth(customer_tokens["access"])), 401)
    assert_error(client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}), 401)
    assert {row.token_type for row in db.session.scalars(select(RevokedToken))} == {"access", "refresh"}


def test_logout_without_a_body_revokes_the_access_token_only(client, customer_tokens):
    response = client.post("/api/auth/logout/", headers=auth(customer_tokens["access"]))

    assert response.status_code == 204
    assert_error(client.get(ME, headers=auth(customer_tokens["access"])), 401)
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}).status_code == 200


def test_logout_leaves_another_users_refresh_token_alone(client, customer_tokens, other_customer):
    others = login(client, other_customer.email, PASSWORD).json

    response = client.post(
        "/api/auth/logout/", headers=auth(customer_tokens["access"]), json={"refresh": others["refresh"]}
    )

    assert response.status_code == 204
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": others["refresh"]}).status_code == 200


def test_logout_ignores_a_refresh_value_that_is_not_a_refresh_token(client, customer_tokens):
    response = client.post("/api/auth/logout/", headers=auth(customer_tokens["access"]), json={"refresh": "garbage"})

    assert response.status_code == 204
    # The sign-out still happened: the access token used is refused, the untouched refresh token still works.
    assert_error(client.get(ME, headers=auth(customer_tokens["access"])), 401)
    assert client.post("/api/auth/jwt/refresh/", json={"refresh": customer_tokens["refresh"]}).status_code == 200


def test_logout_needs_a_valid_access_token(client, customer_tokens):
    assert_error(client.post("/api/auth/logout/", json={}), 401)
    assert_error(client.post("/api/auth/logout/", headers=auth(customer_tokens["refresh"]), json={}), 401)


def test_logout_refuses_unknown_fields_after_authentication(client, customer_tokens):
    response = client.post("/api/auth/logout/", headers=auth(customer_tokens["access"]), json={"everything": True})

    assert_error(response, 400, "everything")
    assert client.get(ME, headers=auth(customer_tokens["access"])).status_code == 200


# -- decoding ---------------------------------------------------------------------------------------------


def test_a_token_is_parsed_once_and_decodes_as_the_librarys_own_path(app, customer, monkeypatch):
    from flask_jwt_extended import JWTManager
    from jwt.api_jws import PyJWS

    from nexus.extensions import jwt

    good, expired = make_token(customer), make_token(customer, expires=timedelta(seconds=-1))
    loads = []
    original = PyJWS._load
    monkeypatch.setattr(PyJWS, "_load", lambda self, token: loads.append(token) or original(self, token))

    claims = jwt._decode_jwt_from_config(good)

    assert loads == [good]
    assert claims == JWTManager._decode_jwt_from_config(jwt, good)
    assert claims["sub"] == str(customer.id) and claims["type"] == "access"
    errors = []
    for decode in (jwt._decode_jwt_from_config, lambda token: JWTManager._decode_jwt_from_config(jwt, token)):
        with pytest.raises(pyjwt.ExpiredSignatureError) as caught:
            decode(expired)
        errors.append((caught.value.jwt_header, caught.value.jwt_data))
    assert errors[0] == errors[1] and errors[0][1]["sub"] == str(customer.id)


def test_a_decode_key_loader_gets_the_librarys_own_path(app, customer, monkeypatch):
    from nexus.extensions import jwt

    seen = []
    monkeypatch.setattr(
        jwt,
        "_decode_key_callback",
        lambda header, claims: seen.append((header["alg"], claims["sub"])) or TEST_ENV["JWT_SECRET_KEY"],
    )

    assert jwt._decode_jwt_from_config(make_token(customer))["sub"] == str(customer.id)
    assert seen == [("HS256", str(customer.id))]
