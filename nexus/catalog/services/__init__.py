"""The catalog's business rules; one module per resource, all re-exported here."""

from nexus.catalog.services.categories import (  # noqa: F401
    ancestor_ids,
    create_category,
    delete_category,
    get_category_or_404,
    list_categories,
    set_category_image,
    subtree_ids,
    update_category,
)
from nexus.catalog.services.images import (  # noqa: F401
    add_product_image,
    delete_product_image,
    make_thumbnail,
)
from nexus.catalog.services.inventory import (  # noqa: F401
    StockChange,
    StockLine,
    adjust_stock,
    ledger_insert,
    ledger_rows,
    list_low_stock,
    list_movements,
    refresh_product_summaries,
    return_stock,
    take_stock,
)
from nexus.catalog.services.listing import list_products  # noqa: F401
from nexus.catalog.services.lookup import (  # noqa: F401
    get_product_by_pk_or_404,
    get_product_or_404,
)
from nexus.catalog.services.products import create_product, delete_product, update_product  # noqa: F401
from nexus.catalog.services.reads import (  # noqa: F401
    read_categories,
    read_category,
    read_product,
    read_products,
    read_reviews,
    read_variants,
)
from nexus.catalog.services.reviews import (  # noqa: F401
    create_review,
    delete_review,
    list_reviews,
    refresh_review_summary,
    update_review,
)
from nexus.catalog.services.variants import (  # noqa: F401
    create_variant,
    delete_variant,
    list_variants,
    update_variant,
)
