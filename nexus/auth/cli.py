"""`flask create-superuser`."""

from flask import Flask


def register(app: Flask) -> None:
    pass
