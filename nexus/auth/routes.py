"""HTTP routes of authentication and the user's own profile."""

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt

from nexus.auth import schemas, services
from nexus.common.api import Blueprint
from nexus.common.schemas import EmptySchema
from nexus.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Registration, JWT, password and email flows")
users_blp = Blueprint("users", __name__, url_prefix="/api/store/users", description="The signed-in user's profile")


def _failed(response) -> bool:
    # Only failed attempts count towards the limit: a shop behind one NAT still signs in all day.
    return response.status_code in (400, 401)


login_limit = limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], deduct_when=_failed)
email_limit = limiter.limit(lambda: current_app.config["EMAIL_RATE_LIMIT"])


@blp.route("/registration/")
class Registration(MethodView):
    @blp.arguments(schemas.RegistrationSchema)
    @blp.response(201, schemas.RegistrationResultSchema)
    def post(self, data):
        """Create an account; the answer signs it in, and a verification email is on its way."""
        user, pair = services.register_user(**data)
        return {"user": user, **pair}


@blp.route("/jwt/create/")
class TokenCreate(MethodView):
    @login_limit
    @blp.arguments(schemas.LoginSchema)
    @blp.response(200, schemas.TokenPairSchema)
    @blp.documents(401, 429)
    def post(self, data):
        """Sign in with email and password (rate-limited per client address)."""
        return services.authenticate(**data)


@blp.route("/jwt/refresh/")
class TokenRefresh(MethodView):
    @blp.arguments(schemas.RefreshSchema)
    @blp.response(200, schemas.TokenPairSchema)
    @blp.documents(401)
    def post(self, data):
        """Exchange a refresh token for a new pair; the refresh token given is revoked."""
        return services.refresh_tokens(refresh=data["refresh"])


@blp.route("/jwt/verify/")
class TokenVerify(MethodView):
    @blp.arguments(schemas.VerifyTokenSchema)
    @blp.response(200, EmptySchema)
    @blp.documents(401)
    def post(self, data):
        """Check a token: 200 while it is valid, 401 once it is expired, revoked or of an inactive user."""
        services.verify_token(token=data["token"])
        return {}


@blp.route("/logout/")
class Logout(MethodView):
    @blp.login_required()
    @blp.arguments(schemas.LogoutSchema)
    @blp.response(204)
    def post(self, data):
        """Sign out: revoke the access token used and the refresh token given."""
        services.logout(user_id=current_user.id, access_claims=get_jwt(), refresh=data.get("refresh"))


@blp.route("/user/")
class CurrentUser(MethodView):
    @blp.login_required()
    @blp.response(200, schemas.UserSchema)
    def get(self):
        """The signed-in user."""
        return current_user

    @blp.login_required()
    @blp.arguments(schemas.UserUpdateSchema)
    @blp.response(200, schemas.UserSchema)
    def put(self, data):
        """Replace the editable fields (first_name, last_name, phone_number); omitted ones become empty."""
        return services.update_user(user_id=current_user.id, **data)

    @blp.login_required()
    @blp.arguments(schemas.UserPatchSchema)
    @blp.response(200, schemas.UserSchema)
    def patch(self, data):
        """Change some of the editable fields (first_name, last_name, phone_number)."""
        return services.update_user(user_id=current_user.id, **data)


@users_blp.route("/me/")
class Me(CurrentUser):
    """The same object and rules as /api/auth/user/."""


@blp.route("/password/change/")
class PasswordChange(MethodView):
    @blp.login_required()
    @blp.arguments(schemas.PasswordChangeSchema)
    @blp.response(200, schemas.PasswordChangeResultSchema)
    def post(self, data):
        """Change the password; every older token is refused, and a new pair keeps this client signed in."""
        pair = services.change_password(user_id=current_user.id, **data)
        return {"detail": "Password changed.", **pair}


@blp.route("/password/reset/")
class PasswordReset(MethodView):
    @email_limit
    @blp.arguments(schemas.PasswordResetSchema)
    @blp.response(200, schemas.DetailSchema)
    @blp.documents(429)
    def post(self, data):
        """Ask for a password reset email; the answer is the same whether the account exists or not."""
        services.request_password_reset(email=data["email"])
        return {"detail": "If an account has this email address, a password reset email has been sent."}


@blp.route("/password/reset/confirm/")
class PasswordResetConfirm(MethodView):
    @blp.arguments(schemas.PasswordResetConfirmSchema)
    @blp.response(200, schemas.DetailSchema)
    def post(self, data):
        """Set a new password with the token from the reset email (once, before it expires)."""
        services.reset_password(**data)
        return {"detail": "Password has been reset. Sign in with the new password."}


@blp.route("/verify-email/")
class VerifyEmail(MethodView):
    @blp.arguments(schemas.VerifyEmailSchema)
    @blp.response(200, schemas.DetailSchema)
    def post(self, data):
        """Confirm the email address with the key from the verification email."""
        services.verify_email(key=data["key"])
        return {"detail": "Email address verified."}


@blp.route("/resend-email/")
class ResendEmail(MethodView):
    @blp.login_required()
    @email_limit
    @blp.response(200, schemas.DetailSchema)
    @blp.documents(429)
    def post(self):
        """Send a new verification email to the signed-in user (none when already verified)."""
        sent = services.resend_verification_email(user_id=current_user.id)
        return {"detail": "Verification email sent." if sent else "Email address is already verified."}
