"""Fixtures for browser tests: the app served on a free localhost port, and headless Debian Chromium via Playwright.

The tests are skipped, with the reason, when /usr/bin/chromium or the playwright package is missing; CI installs
both (`.ci/run` installs Debian's chromium, requirements-dev.txt pins playwright) and sets REQUIRE_BROWSER=1, which
turns the skip into a failure. Playwright never downloads a browser here: it drives the system Chromium through
`executable_path`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("NEXUS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `apt-get install -y chromium` to run the browser tests"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: `.venv/bin/pip install -r requirements-dev.txt`"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason and os.environ.get("REQUIRE_BROWSER") != "1":
        for item in items:
            if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def server_url(app) -> Iterator[str]:
    """The app under test served by werkzeug on a free 127.0.0.1 port in a background thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, launched once per test module (Playwright gives it a fresh temporary profile)."""
    reason = _missing()
    if reason:  # only reached with REQUIRE_BROWSER=1: the skip became a failure
        pytest.fail(f"REQUIRE_BROWSER=1 and {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def external_requests() -> list[str]:
    """Every URL the page tried to load from anywhere but the served app (refused): the docs must work offline."""
    return []


@pytest.fixture
def page(browser, server_url, external_requests):
    """A page in a fresh browser context whose requests may only reach the served app."""
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    own = urlsplit(server_url).netloc

    def _only_local(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == own:
            route.continue_()
        else:
            external_requests.append(route.request.url)
            route.abort()

    context.route("**/*", _only_local)
    yield context.new_page()
    context.close()
