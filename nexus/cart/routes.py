"""HTTP routes of carts, cart items and wishlists."""

from nexus.common.api import Blueprint

blp = Blueprint("cart", __name__, url_prefix="/api/store", description="The customer's cart and wishlist")
