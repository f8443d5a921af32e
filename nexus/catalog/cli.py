"""`flask` commands of the catalog domain."""

from flask import Flask


def register(app: Flask) -> None:
    """Add this domain's commands to `flask`."""
