"""Marshmallow schemas of the catalog: output shapes, strict input bodies and list filters."""

from nexus.catalog.schemas.categories import (  # noqa: F401
    CategoryCreateSchema,
    CategoryImageUploadSchema,
    CategoryPatchSchema,
    CategoryQueryArgsSchema,
    CategorySchema,
    CategoryUpdateSchema,
)
from nexus.catalog.schemas.common import CategoryRefSchema, ProductRefSchema  # noqa: F401
from nexus.catalog.schemas.inventory import (  # noqa: F401
    LowStockQueryArgsSchema,
    LowStockVariantSchema,
    MovementQueryArgsSchema,
    StockMovementSchema,
)
from nexus.catalog.schemas.products import (  # noqa: F401
    ORDERINGS,
    ImageSchema,
    ProductCreateSchema,
    ProductImageUploadSchema,
    ProductPatchSchema,
    ProductQueryArgsSchema,
    ProductSchema,
    ProductUpdateSchema,
    VariantCreateSchema,
    VariantQueryArgsSchema,
    VariantSchema,
    VariantUpdateSchema,
)
from nexus.catalog.schemas.reviews import (  # noqa: F401
    ReviewCreateSchema,
    ReviewQueryArgsSchema,
    ReviewSchema,
    ReviewUpdateSchema,
)
