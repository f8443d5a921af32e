"""HTTP routes of authentication and the user's own profile."""

from nexus.common.api import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Registration, JWT, password and email flows")
users_blp = Blueprint("users", __name__, url_prefix="/api/store/users", description="The signed-in user's profile")
