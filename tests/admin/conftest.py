"""Fixtures for the admin site: a logged-in staff client, and the CSRF token of a page."""

from __future__ import annotations

import re

import pytest

# The browser fixtures (live server, offline-only page) for test_admin_browser.py; `browser` is redefined below.
from tests.browser import conftest as live
from tests.browser.conftest import external_requests, page, server_url  # noqa: F401
from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD):
    """Post the admin login form, CSRF token included; returns the response."""
    token = csrf_token(client.get("/admin/login/").get_data(as_text=True))
    return client.post("/admin/login/", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, url: str, data: dict, *, form_page: str | None = None, **kwargs):
    """POST `data` to an admin URL with the CSRF token of `form_page` (default: the URL itself)."""
    token = csrf_token(client.get(form_page or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def staff_client(app, admin):
    """A test client logged in to the admin site as `admin` (an active staff user)."""
    client = app.test_client()
    response = login(client, admin.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def png_bytes() -> bytes:
    """A small PNG that decodes."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for this folder's browser tests, closed after them: one Playwright at a time."""
    reason = live._missing()
    if reason:  # only reached with REQUIRE_BROWSER=1: the skip became a failure
        pytest.fail(f"REQUIRE_BROWSER=1 and {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=live.TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(live.CHROMIUM), args=live.CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
