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


class ImageNotFound(NotFound):
    message = "Image not found."


class ReviewNotFound(NotFound):
    message = "Review not found."


class CategoryInUse(Conflict):
    message = "The category still has products or subcategories."


class DuplicateReview(Conflict):
    message = "You have already reviewed this product."


class MainImageConflict(Conflict):
    message = "Another main image was set at the same time; try again."
