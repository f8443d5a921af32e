"""Marshmallow building blocks: money as decimal strings, strict input schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class Money(fields.Decimal):
    """Money is a decimal string with two places ("19.90"), never a float."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "19.90")
        super().__init__(places=2, as_string=True, **kwargs)


class InputSchema(Schema):
    """Request bodies: unknown fields are refused (no silent mass assignment)."""

    class Meta:
        unknown = RAISE


class EmptySchema(Schema):
    """An empty JSON object."""
