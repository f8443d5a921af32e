"""Category shapes: output, create/update bodies, list filters, image upload."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from nexus.catalog.schemas.common import SLUG, CategoryRefSchema, ImageFile, not_blank
from nexus.common.media import MediaURL
from nexus.common.pagination import PaginationArgsSchema
from nexus.common.schemas import InputSchema


class CategorySchema(Schema):
    """A category; `parent` is the parent's slug, `children` the categories right below it."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    description = fields.String(required=True)
    parent = fields.Pluck(CategoryRefSchema, "slug", required=True, allow_none=True)
    image = MediaURL(required=True, allow_none=True)
    is_active = fields.Boolean(required=True)
    children = fields.List(fields.Nested(CategoryRefSchema), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class CategoryCreateSchema(InputSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=120), not_blank])
    slug = fields.String(
        validate=[validate.Length(max=140), SLUG], metadata={"description": "made from the name when absent"}
    )
    description = fields.String(validate=validate.Length(max=5000))
    parent = fields.String(allow_none=True, metadata={"description": "the parent category's slug; null: top level"})
    is_active = fields.Boolean()


class CategoryUpdateSchema(CategoryCreateSchema):
    """Every field of a category (PUT): name is required, others keep their value when omitted."""


class CategoryPatchSchema(CategoryCreateSchema):
    name = fields.String(validate=[validate.Length(min=1, max=120), not_blank])


class CategoryQueryArgsSchema(PaginationArgsSchema):
    parent = fields.String(
        metadata={"description": "children of the category with this slug; empty (`?parent=`): top level only"}
    )
    search = fields.String(validate=validate.Length(max=100), metadata={"description": "part of the name"})


class CategoryImageUploadSchema(InputSchema):
    image = ImageFile(required=True, metadata={"description": "JPEG, PNG, WebP or GIF"})
