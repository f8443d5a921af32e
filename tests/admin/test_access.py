"""Who may use the admin site: staff only, with a CSRF token on every write; the API ignores its cookie."""

from __future__ import annotations

import pytest

from nexus.admin.security import REFUSED, SESSION_KEY
from nexus.catalog.models import Category
from nexus.extensions import db
from tests.admin.conftest import csrf_token, login
from tests.factories import UserFactory

PAGES = [
    "/admin/",
    "/admin/user/",
    "/admin/category/",
    "/admin/category/new/",
    "/admin/product/",
    "/admin/product/new/",
    "/admin/review/",
    "/admin/order/",
    "/admin/payment/",
    "/admin/stockmovement/",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")


def test_anonymous_post_changes_nothing(client, app):
    response = client.post("/admin/category/new/", data={"name": "Sneaky"})
    assert response.status_code == 400  # the missing CSRF token, before anything else
    assert db.session.scalar(db.select(Category).where(Category.name == "Sneaky")) is None


def test_staff_logs_in_with_a_signed_http_only_cookie(app, admin):
    client = app.test_client()
    response = login(client, admin.email)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain HTTP; production sets it (test_config)
    assert client.get("/admin/").status_code == 200


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(app, admin):
    client = app.test_client()
    token = csrf_token(client.get("/admin/login/").get_data(as_text=True))
    data = {"email": admin.email, "password": "Correct-Horse-42", "csrf_token": token}
    assert client.post("/admin/login/?next=/admin/order/", data=data).headers["Location"] == "/admin/order/"
    client = app.test_client()
    data["csrf_token"] = csrf_token(client.get("/admin/login/").get_data(as_text=True))
    assert client.post("/admin/login/?next=//evil.example/", data=data).headers["Location"] == "/admin/"


def test_a_customer_is_refused_like_a_wrong_password(app, customer, admin):
    client = app.test_client()
    as_customer = login(client, customer.email)
    wrong = login(client, admin.email, "Wrong-Password-99")
    unknown = login(client, "nobody@example.com")
    for response in (as_customer, wrong, unknown):
        assert response.status_code == 200
        assert REFUSED in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_an_inactive_staff_user_is_refused(app):
    user = UserFactory(email="gone@example.com", is_staff=True, is_active=False)
    response = login(app.test_client(), user.email)
    assert REFUSED in response.get_data(as_text=True)


def test_a_non_staff_session_gets_403(app, customer):
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = [customer.id, customer.token_version]
    assert client.get("/admin/product/").status_code == 403


def test_a_demoted_staff_member_loses_the_session(staff_client, admin):
    from nexus.auth.services import update_user_by_staff

    update_user_by_staff(user_id=admin.id, changes={"is_staff": False})
    assert staff_client.get("/admin/product/").status_code == 403


def test_login_without_csrf_token_is_refused(app, admin):
    client = app.test_client()
    response = client.post("/admin/login/", data={"email": admin.email, "password": "Correct-Horse-42"})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_admin_write_without_csrf_token_is_refused(staff_client):
    response = staff_client.post("/admin/category/new/", data={"name": "No Token"})
    assert response.status_code == 400
    assert db.session.scalar(db.select(Category).where(Category.name == "No Token")) is None


def test_failed_logins_are_rate_limited(app, admin):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        client = app.test_client()
        assert login(client, admin.email, "Wrong-Password-1").status_code == 200
        assert login(client, admin.email, "Wrong-Password-2").status_code == 200
        assert login(client, admin.email).status_code == 429  # even the right password waits
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10 per minute"


def test_logout_ends_the_session(staff_client):
    token = csrf_token(staff_client.get("/admin/logout/").get_data(as_text=True))
    response = staff_client.post("/admin/logout/", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login/"
    assert staff_client.get("/admin/").status_code == 302


def test_the_api_ignores_the_admin_session(staff_client, admin_headers):
    assert staff_client.get("/api/store/inventory/low-stock/").status_code == 401
    assert staff_client.get("/api/store/inventory/low-stock/", headers=admin_headers).status_code == 200


def test_production_marks_the_cookie_secure(monkeypatch):
    from nexus.config import load_config

    monkeypatch.setenv("NEXUS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    config = load_config()
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SAMESITE"] == "Lax"
