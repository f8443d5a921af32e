"""Public catalog reads: JSON bodies, answered from the shared cache for everyone but staff."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request

from nexus.catalog.routes.viewer import viewer_is_staff
from nexus.common import cache
from nexus.common.pagination import Page, envelope


def json_response(value: Any) -> Response:
    """A 200 with `value` as JSON (made by the application's JSON provider, as jsonify would)."""
    return current_app.response_class(current_app.json.dumps(value) + "\n", mimetype="application/json")


def page_response(page: Page) -> Response:
    """The list envelope around a page of documents."""
    return json_response(envelope(page))


def public_read(namespace: str) -> Callable:
    """Serve a public GET's 200 body from the cache, under the namespace every write affecting it invalidates
    once it commits (nexus.common.cache), so no client reads a stale price, stock or status after a write's
    answer. The key is the request's own URL (host, path and query string as sent): a hit is sent as it is,
    before the query is even parsed, and can only be a body this same URL was answered with. Staff see drafts
    and inactive rows: their reads are never cached nor shared. Errors are never cached.

    Put it above the @blp.arguments decorators, so a hit skips them."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def read(*args, **kwargs) -> Response:
            if viewer_is_staff() or not cache.enabled():
                return view(*args, **kwargs)
            build = lambda: view(*args, **kwargs).get_data()  # noqa: E731  (bytes: sent as they are)
            # The URL as the envelope's links are made of it (werkzeug's host_url costs more to build).
            url = (request.scheme, request.host, request.root_path, request.full_path)
            body = cache.cached(namespace, url, build)
            return current_app.response_class(body, mimetype="application/json")

        return read

    return decorator
