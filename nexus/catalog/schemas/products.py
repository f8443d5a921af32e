"""Product, variant and image shapes: output, create/update bodies, list filters and ordering."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from nexus.catalog.models import SIZES, ProductStatus
from nexus.catalog.schemas.common import (
    MAX_STOCK,
    PRICE_LIMIT,
    SLUG,
    CategoryRefSchema,
    ImageFile,
    not_blank,
)
from nexus.common.media import MediaURL
from nexus.common.pagination import PaginationArgsSchema
from nexus.common.schemas import InputSchema, Money

ORDERINGS = ("price", "-price", "created_at", "-created_at", "name", "-name", "rating", "-rating")

# -- output ---------------------------------------------------------------------------------------------


class VariantSchema(Schema):
    """A size variant; `low_stock` is true at or under the product's low-stock threshold."""

    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    size = fields.String(required=True, metadata={"enum": list(SIZES)})
    price = Money(required=True)
    stock = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)
    low_stock = fields.Boolean(required=True)


class ImageSchema(Schema):
    """A product image; `thumbnail` is null until the background task has made it."""

    id = fields.Integer(required=True)
    image = MediaURL(required=True)
    thumbnail = MediaURL(required=True, allow_none=True)
    alt_text = fields.String(required=True)
    is_main = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class ProductSchema(Schema):
    """A product with its variants and images; `price` is its lowest active variant price."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.Nested(CategoryRefSchema, required=True)
    status = fields.Enum(ProductStatus, by_value=True, required=True)
    meta_title = fields.String(attribute="seo_title", required=True, metadata={"description": "defaults to name"})
    meta_description = fields.String(
        attribute="seo_description", required=True, metadata={"description": "defaults to the description's start"}
    )
    price = Money(attribute="min_price", required=True, allow_none=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)
    images = fields.List(fields.Nested(ImageSchema), required=True)
    main_image = MediaURL(required=True, allow_none=True)
    average_rating = fields.Float(required=True, allow_none=True, metadata={"example": 4.5})
    review_count = fields.Integer(required=True)
    in_stock = fields.Boolean(required=True)
    low_stock_threshold = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: LOW_STOCK_THRESHOLD applies"}
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


# -- input ----------------------------------------------------------------------------------------------

_SKU = [
    validate.Length(min=1, max=64),
    validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="Use letters, digits, '.', '_' and '-'."),
]


def _price(value) -> None:
    # A function, not validate.Range: apispec would document a Money string's bounds as strings.
    if not 0 < value < PRICE_LIMIT:
        raise ValidationError(f"Must be greater than 0 and less than {PRICE_LIMIT}.")


_PRICE = _price
_STOCK = validate.Range(min=0, max=MAX_STOCK)


class VariantCreateSchema(InputSchema):
    sku = fields.String(required=True, validate=_SKU, metadata={"description": "stored upper-case; unique"})
    size = fields.String(required=True, validate=validate.OneOf(SIZES))
    price = Money(required=True, validate=_PRICE, metadata={"description": "greater than 0"})
    stock = fields.Integer(load_default=0, strict=True, validate=_STOCK)
    is_active = fields.Boolean(load_default=True)


class VariantUpdateSchema(InputSchema):
    price = Money(validate=_PRICE, metadata={"description": "greater than 0"})
    stock = fields.Integer(strict=True, validate=_STOCK, metadata={"description": "recorded as an adjustment"})
    is_active = fields.Boolean()


class ProductUpdateSchema(InputSchema):
    """Every field of a product (PUT): name and category are required, others keep their value when omitted."""

    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), not_blank])
    slug = fields.String(
        validate=[validate.Length(max=220), SLUG], metadata={"description": "made from the name when absent"}
    )
    description = fields.String(validate=validate.Length(max=20000))
    category = fields.String(required=True, metadata={"description": "the category's slug"})
    status = fields.Enum(ProductStatus, by_value=True, metadata={"description": "draft when created without"})
    meta_title = fields.String(validate=validate.Length(max=200), metadata={"description": "empty: the name"})
    meta_description = fields.String(
        validate=validate.Length(max=320), metadata={"description": "empty: the description's start"}
    )
    low_stock_threshold = fields.Integer(allow_none=True, strict=True, validate=_STOCK)


class ProductCreateSchema(ProductUpdateSchema):
    variants = fields.List(
        fields.Nested(VariantCreateSchema),
        validate=validate.Length(max=len(SIZES)),
        metadata={"description": "made in the same transaction; one per size"},
    )


class ProductPatchSchema(ProductUpdateSchema):
    name = fields.String(validate=[validate.Length(min=1, max=200), not_blank])
    category = fields.String(metadata={"description": "the category's slug"})


class ProductImageUploadSchema(InputSchema):
    image = ImageFile(required=True, metadata={"description": "JPEG, PNG, WebP or GIF"})
    alt_text = fields.String(load_default="", validate=validate.Length(max=255))
    is_main = fields.Boolean(
        load_default=False, metadata={"description": "make it the main image (a product's first image is anyway)"}
    )


# -- list filters ---------------------------------------------------------------------------------------


class SizeList(fields.String):
    """`M` or `S,M`: one or more sizes, comma-separated."""

    def _deserialize(self, value, attr, data, **kwargs):
        sizes = [size.strip().upper() for size in super()._deserialize(value, attr, data, **kwargs).split(",")]
        unknown = [size for size in sizes if size not in SIZES]
        if unknown or not sizes:
            raise ValidationError(f"Unknown size {', '.join(unknown) or '(empty)'}: use {', '.join(SIZES)}.")
        return sorted(set(sizes), key=SIZES.index)


_PRICE_FILTER = validate.Range(min=0, max=PRICE_LIMIT)
# apispec would document a Decimal field's bounds as strings; the OpenAPI document needs numbers.
_PRICE_FILTER_DOC = {"minimum": 0, "maximum": PRICE_LIMIT}


class ProductQueryArgsSchema(PaginationArgsSchema):
    category = fields.String(metadata={"description": "a category's slug: products in it and every category below"})
    min_price = fields.Decimal(validate=_PRICE_FILTER, metadata={**_PRICE_FILTER_DOC, "example": 10})
    max_price = fields.Decimal(validate=_PRICE_FILTER, metadata={**_PRICE_FILTER_DOC, "example": 50})
    size = SizeList(metadata={"description": "has an active variant of this size in stock: `M` or `S,M`"})
    min_rating = fields.Decimal(
        validate=validate.Range(min=0, max=5), metadata={"minimum": 0, "maximum": 5, "example": 4}
    )
    in_stock = fields.Boolean(metadata={"description": "true: only products with an active variant in stock"})
    search = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "words in the name or description (ranked full-text search on PostgreSQL)"},
    )
    ordering = fields.String(
        validate=validate.OneOf(ORDERINGS),
        metadata={"description": "default -created_at; with `search` and no ordering, best match first"},
    )
    status = fields.Enum(ProductStatus, by_value=True, metadata={"description": "admins only (others: active)"})

    @validates_schema
    def price_range(self, data: dict, **kwargs) -> None:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be less than min_price.", field_name="max_price")


class VariantQueryArgsSchema(PaginationArgsSchema):
    pass
