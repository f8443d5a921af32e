"""Auth errors, each with its HTTP status."""

from nexus.common.errors import NotFound, Unauthorized


class InvalidCredentials(Unauthorized):
    message = "No active account found with the given credentials."


class InvalidToken(Unauthorized):
    message = "Token is invalid, expired or revoked."


class UserNotFound(NotFound):
    message = "User not found."
