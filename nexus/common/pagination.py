"""The paginated envelope {count, next, previous, results} shared by every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from marshmallow import Schema, fields, post_load, validate
from sqlalchemy import Select, func, select

from nexus.common.errors import NotFound
from nexus.extensions import db


class PaginationArgsSchema(Schema):
    """`page` from 1; `page_size` from 1, larger than MAX_PAGE_SIZE is capped, not refused."""

    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1), metadata={"description": "page number, from 1"}
    )
    page_size = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "items per page (default PAGE_SIZE, 12; capped at 100)"},
    )

    @post_load
    def cap_page_size(self, data: dict, **kwargs) -> dict:
        config = current_app.config
        size = data.get("page_size") or config["PAGE_SIZE"]
        data["page_size"] = min(size, config["MAX_PAGE_SIZE"])
        return data


@dataclass
class Page:
    items: list[Any]
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count


def check_page(*, page: int, page_size: int, count: int) -> None:
    """A page past the end of `count` items (other than an empty first page) is 404."""
    if page > 1 and (page - 1) * page_size >= count:
        raise NotFound("Invalid page: past the end of the list.")


def paginate(stmt: Select, *, page: int, page_size: int, count: int | None = None) -> Page:
    """Run one count and one page query; a page past the end (other than an empty first page) is 404."""
    if count is None:
        count = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    check_page(page=page, page_size=page_size, count=count)
    items = list(db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique())
    return Page(items=items, count=count, page=page, page_size=page_size)


def paginate_list(items: list[Any], *, page: int, page_size: int) -> Page:
    """The same envelope over a list already in memory (small, bounded collections)."""
    count = len(items)
    check_page(page=page, page_size=page_size, count=count)
    start = (page - 1) * page_size
    return Page(items=items[start : start + page_size], count=count, page=page, page_size=page_size)


def _page_url(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"


def envelope(page: Page) -> dict:
    """The response body for a Page, with `next`/`previous` keeping the other query parameters."""
    return {
        "count": page.count,
        "next": _page_url(page.page + 1) if page.has_next else None,
        "previous": _page_url(page.page - 1) if page.page > 1 else None,
        "results": page.items,
    }


_page_schemas: dict[type, type] = {}


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """A schema class for the envelope around `item_schema`, named for the OpenAPI document."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (Schema,),
            {
                "count": fields.Integer(required=True),
                "next": fields.String(allow_none=True, required=True),
                "previous": fields.String(allow_none=True, required=True),
                "results": fields.List(fields.Nested(item_schema), required=True),
                "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} objects.",
            },
        )
    return _page_schemas[item_schema]
