"""The catalog domain."""

from nexus.catalog import models  # noqa: F401  (registers the tables)
from nexus.catalog.routes import blp

__all__ = ["blp"]
