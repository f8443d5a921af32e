"""The cart domain."""

from nexus.cart.routes import blp

__all__ = ["blp"]
