"""`flask` commands of the orders domain."""

from flask import Flask


def register(app: Flask) -> None:
    """Add this domain's commands to `flask`."""
