"""The API docs in a real browser: Swagger UI lists every tag's operations and signs a customer in; ReDoc renders."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.factories import PASSWORD, UserFactory

REDOC_BADGE = "https://cdn.redoc.ly/redoc/logo-mini.svg"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Every operation Swagger UI rendered, as {tag: [[method, path], ...]}, read from the DOM in one call.
_LISTED_OPERATIONS_JS = """sections => Object.fromEntries(sections.map(section => [
    section.querySelector('.opblock-tag').dataset.tag,
    [...section.querySelectorAll('.opblock')].map(block => [
        block.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
        block.querySelector('.opblock-summary-path').dataset.path,
    ]),
]))"""


@pytest.fixture
def js_errors(page) -> list[str]:
    """Uncaught JavaScript errors of the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _shot(page, name: str) -> None:
    # Only while developing: NEXUS_BROWSER_SCREENSHOTS=/tmp saves what the browser showed there.
    folder = os.environ.get("NEXUS_BROWSER_SCREENSHOTS")
    if folder:
        page.screenshot(path=f"{folder}/nexus-{name}.png", full_page=False)


def _operations_by_tag(spec: dict) -> dict[str, set[tuple[str, str]]]:
    # A declared tag shows in the UI even before it has operations; an untagged operation goes under "default".
    by_tag: dict[str, set[tuple[str, str]]] = {tag["name"]: set() for tag in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                for tag in operation.get("tags", ["default"]):
                    by_tag.setdefault(tag, set()).add((method, path))
    return by_tag


def _operation(page, method: str, path: str):
    return page.locator(f'.opblock-{method}:has(.opblock-summary-path[data-path="{path}"])')


def _open_and_try(operation):
    """Expand an operation and switch it to "Try it out" (the config may have switched it on already)."""
    from playwright.sync_api import expect

    operation.locator(".opblock-summary").click()
    try_it_out = operation.get_by_role("button", name="Try it out")
    if try_it_out.count():
        try_it_out.click()
    expect(operation.get_by_role("button", name="Execute")).to_be_visible()


def _execute(operation) -> tuple[int, dict]:
    """Press Execute and read the status and JSON body Swagger UI rendered as the server's response."""
    from playwright.sync_api import expect

    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text(re.compile(r"^\s*\d{3}\s*$"))
    status = int(response.locator(".response-col_status").inner_text().strip()[:3])
    body = response.locator(".response-col_description .highlight-code pre").first.inner_text()
    return status, json.loads(body)


def test_swagger_ui_lists_every_tag_and_signs_a_customer_in(page, external_requests, js_errors):
    from playwright.sync_api import expect

    shopper = UserFactory(email="shopper@example.com", is_verified=True)
    spec = page.request.get("/openapi.json").json()
    expected = _operations_by_tag(spec)
    assert {"auth", "users", "health"} <= expected.keys()

    page.goto("/swagger/")
    expect(page.locator(".opblock-tag-section")).to_have_count(len(expected))
    listed = page.eval_on_selector_all(".opblock-tag-section", _LISTED_OPERATIONS_JS)
    assert {tag: {tuple(op) for op in ops} for tag, ops in listed.items()} == expected
    _shot(page, "swagger-list")

    login = _operation(page, "post", "/api/auth/jwt/create/")
    _open_and_try(login)
    login.locator("textarea.body-param__text").fill(json.dumps({"email": shopper.email, "password": PASSWORD}))
    status, tokens = _execute(login)
    assert status == 200, tokens
    assert tokens.keys() == {"access", "refresh"}
    _shot(page, "swagger-login")

    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_contain_text("bearerAuth")
    dialog.locator("input").fill(tokens["access"])
    dialog.locator(".auth-btn-wrapper").get_by_role("button", name="Authorize").click()
    expect(dialog.get_by_role("button", name="Logout")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    me = _operation(page, "get", "/api/store/users/me/")
    _open_and_try(me)
    status, profile = _execute(me)
    _shot(page, "swagger-me")
    assert status == 200, profile
    assert profile["email"] == "shopper@example.com"
    assert profile["id"] == shopper.id
    expect(me.locator(".curl-command")).to_contain_text(f"Authorization: Bearer {tokens['access']}")

    assert external_requests == []
    assert js_errors == []


def test_redoc_shows_the_api_title_and_every_tag(page, external_requests, js_errors):
    from playwright.sync_api import expect

    tags = [tag["name"] for tag in page.request.get("/openapi.json").json()["tags"]]
    page.goto("/redoc/")
    expect(page.locator("h1").first).to_contain_text("Nexus Store API")
    menu = page.locator(".menu-content")
    for tag in tags:
        expect(menu.get_by_text(tag, exact=True)).to_be_visible()
    _shot(page, "redoc")

    # ReDoc's own "API docs by Redocly" badge is an <img> from its CDN: cosmetic, refused here, nothing else may leave.
    assert [url for url in external_requests if url != REDOC_BADGE] == []
    assert js_errors == []
