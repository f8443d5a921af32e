"""HTTP routes of the catalog: categories, products, variants, images, reviews, inventory."""

from nexus.common.api import Blueprint

blp = Blueprint(
    "catalog",
    __name__,
    url_prefix="/api/store",
    description="Categories, products, variants, images, reviews, inventory",
)

# The views register themselves on `blp` when imported.
from nexus.catalog.routes import categories, inventory, products, reviews  # noqa: E402, F401
