"""Fields and small shapes every catalog schema shares."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

SLUG = validate.Regexp(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Use lower-case letters, digits and single hyphens (e.g. summer-tees)."
)
# Prices stay below 10^8 (Numeric(12, 2)); bounds are plain numbers so the OpenAPI document shows numbers.
PRICE_LIMIT = 100_000_000
MAX_STOCK = 10_000_000


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class ImageFile(Upload):
    """A file part of a multipart/form-data body (a plain text value is refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ValidationError("Not a file: send the image as a file part of multipart/form-data.")
        return value


class CategoryRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)


class ProductRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
