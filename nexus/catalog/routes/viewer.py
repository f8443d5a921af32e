"""Who is reading a public endpoint: staff (a valid staff token) see every status, anyone else the shop."""

from flask import current_app, request
from flask_jwt_extended import get_current_user, verify_jwt_in_request

# OpenAPI: public endpoints take a token optionally (staff see more with one).
OPTIONAL_AUTH = [{}, {"bearerAuth": []}]


def viewer_is_staff() -> bool:
    """True for a valid staff token; no token is a visitor, and a bad token is a 401 as anywhere."""
    # Tokens come in the Authorization header only (JWT_TOKEN_LOCATION): without one, a visitor.
    if current_app.config["JWT_HEADER_NAME"] not in request.headers:
        return False
    verify_jwt_in_request(optional=True)
    user = get_current_user()
    return bool(user is not None and user.is_staff)
