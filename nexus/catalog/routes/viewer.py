"""Who is reading a public endpoint: staff (a valid staff token) see every status, anyone else the shop."""

from flask_jwt_extended import get_current_user, verify_jwt_in_request

# OpenAPI: public endpoints take a token optionally (staff see more with one).
OPTIONAL_AUTH = [{}, {"bearerAuth": []}]


def viewer_is_staff() -> bool:
    """True for a valid staff token; no token is a visitor, and a bad token is a 401 as anywhere."""
    verify_jwt_in_request(optional=True)
    user = get_current_user()
    return bool(user is not None and user.is_staff)
