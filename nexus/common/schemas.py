"""Marshmallow building blocks: money as decimal strings, strict input schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class Money(fields.Decimal):
    """Money is a decimal string with two places ("19.90"), never a float."""

    def __init__(self, **kwargs):
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("example", "19.90")
        # Documented as what it is on the wire: apispec would call a Decimal field a JSON number.
        metadata.setdefault("type", "string")
        metadata.setdefault("format", "decimal")
        super().__init__(places=2, as_string=True, **kwargs)


class InputSchema(Schema):
    """Request bodies: unknown fields are refused (no silent mass assignment)."""

    class Meta:
        unknown = RAISE


class EmptySchema(Schema):
    """An empty JSON object."""
