"""JSON responses from bodies the read services already serialised (and cached) as text."""

from __future__ import annotations

from flask import Response, current_app

from nexus.common.pagination import Page, envelope


def json_response(text: str) -> Response:
    """A 200 whose body is `text`, JSON made by the read service: a cache hit is never serialised again."""
    return current_app.response_class(text + "\n", mimetype="application/json")


def page_response(page: Page) -> Response:
    """The list envelope around a page whose `items` is already a JSON array (text)."""
    body = envelope(page)
    results = body.pop("results")
    # count, next and previous are per request (the links keep the query); the items come as cached.
    head = current_app.json.dumps(body, separators=(",", ":"))
    return json_response(f'{head[:-1]},"results":{results}}}')
