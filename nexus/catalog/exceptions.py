"""Catalog errors, each with its HTTP status."""

from nexus.common.errors import Conflict, NotFound


class OutOfStock(Conflict):
    message = "Not enough stock."


class ProductNotFound(NotFound):
    message = "Product not found."


class CategoryNotFound(NotFound):
    message = "Category not found."


class VariantNotFound(NotFound):
    message = "Variant not found."
