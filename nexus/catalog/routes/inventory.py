"""Inventory routes for staff: the low-stock report and the stock ledger."""

from flask.views import MethodView

from nexus.catalog import services
from nexus.catalog.routes import blp
from nexus.catalog.schemas import (
    LowStockQueryArgsSchema,
    LowStockVariantSchema,
    MovementQueryArgsSchema,
    StockMovementSchema,
)
from nexus.common.pagination import envelope, page_schema


@blp.route("/inventory/low-stock/")
class LowStock(MethodView):
    @blp.admin_required()
    @blp.arguments(LowStockQueryArgsSchema, location="query")
    @blp.response(200, page_schema(LowStockVariantSchema))
    @blp.documents(404)
    @blp.doc(description="Active variants of products still sold, at or under the threshold; emptiest first.")
    def get(self, args):
        """Variants at or under their product's low-stock threshold."""
        return envelope(services.list_low_stock(**args))


@blp.route("/inventory/movements/")
class StockMovements(MethodView):
    @blp.admin_required()
    @blp.arguments(MovementQueryArgsSchema, location="query")
    @blp.response(200, page_schema(StockMovementSchema))
    @blp.documents(404)
    def get(self, args):
        """The stock ledger, newest first: `?variant=<id>`, `?reason=`."""
        return envelope(services.list_movements(**args))
