"""HTTP routes of the catalog: categories, products, variants, images, reviews, inventory."""

from nexus.common.api import Blueprint

blp = Blueprint(
    "catalog",
    __name__,
    url_prefix="/api/store",
    description="Categories, products, variants, images, reviews, inventory",
)
