"""The catalog's business rules; one module per resource, all re-exported here."""

from nexus.catalog.services.inventory import (  # noqa: F401
    StockChange,
    StockLine,
    adjust_stock,
    refresh_product_summaries,
    return_stock,
    take_stock,
)
