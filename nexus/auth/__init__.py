"""The auth domain: users, JWT, password and email flows."""

from nexus.auth import models  # noqa: F401  (registers the tables)
from nexus.auth.routes import blp, users_blp

__all__ = ["blp", "users_blp"]
