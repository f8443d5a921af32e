"""Cart and wishlist errors, each with its HTTP status."""

from nexus.common.errors import Conflict, NotFound


class CartItemNotFound(NotFound):
    message = "Cart item not found."


class WishlistItemNotFound(NotFound):
    message = "Wishlist entry not found."


class VariantNotFound(NotFound):
    message = "Variant not found."


class ProductNotFound(NotFound):
    message = "Product not found."


class VariantUnavailable(Conflict):
    """The variant is inactive, or its product is not for sale."""

    message = "This variant is not available."


class NotEnoughStock(Conflict):
    message = "Not enough stock."


class ProductNotAvailable(Conflict):
    """A product that can be seen but no longer bought (discontinued) cannot be wished for."""

    message = "This product is no longer sold."
