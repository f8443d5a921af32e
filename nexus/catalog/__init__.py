"""The catalog domain."""

from nexus.catalog.routes import blp

__all__ = ["blp"]
