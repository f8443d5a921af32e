"""HTTP routes of orders and payments."""

from nexus.common.api import Blueprint

blp = Blueprint("orders", __name__, url_prefix="/api/store", description="Orders, payments and the payment webhook")
