"""Every failure answers in the one error shape, whatever raised it."""

from nexus.common import health
from tests.factories import PASSWORD
from tests.helpers import assert_error


def test_malformed_json_is_400(client):
    response = client.post("/api/auth/jwt/create/", data="{not json", content_type="application/json")
    body = assert_error(response, 400)
    assert body["errors"] == {"json": ["Invalid JSON body."]}


def test_validation_error_names_location_and_field(client):
    body = assert_error(client.post("/api/auth/jwt/create/", json={"email": "x@example.com"}), 400)
    assert body["message"] == "Validation failed"
    assert body["errors"]["json"]["password"] == ["Missing data for required field."]


def test_unknown_body_field_is_400(client, customer):
    response = client.post(
        "/api/auth/jwt/create/", json={"email": customer.email, "password": PASSWORD, "is_staff": True}
    )
    body = assert_error(response, 400)
    assert body["errors"]["json"]["is_staff"] == ["Unknown field."]


def test_body_over_the_limit_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/api/auth/jwt/create/", data="x" * 4096, content_type="application/json")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert_error(response, 413)


def test_missing_token_is_401(client):
    body = assert_error(client.get("/api/store/users/me/"), 401)
    assert "errors" not in body


def test_unexpected_error_is_500_without_traceback(client, monkeypatch):
    def explode(self):
        raise RuntimeError("secret internals at /srv/nexus/db.py line 42")

    monkeypatch.setattr(health.Health, "get", explode)
    body = assert_error(client.get("/healthz"), 500)
    text = str(body)
    assert "secret internals" not in text and "Traceback" not in text and "db.py" not in text


def test_trailing_slash_missing_still_reaches_the_endpoint(client):
    response = client.get("/api/store/users/me")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/api/store/users/me/")
