"""Marshmallow schemas of the auth domain: the user object, and the bodies of the auth flows."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from nexus.common.schemas import InputSchema

# Generous, but a bound: hashing a multi-megabyte "password" would only burn CPU.
PASSWORD_MAX_LENGTH = 256
TOKEN_MAX_LENGTH = 4096
PHONE_PATTERN = r"^(\+?[0-9][0-9 ().\-]{4,30})?$"


class LowerEmail(fields.Email):
    """An email address, trimmed and lower-cased: the login name is compared case-insensitively."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=254))
        kwargs.setdefault("metadata", {}).setdefault("example", "cora@example.com")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def _password(description: str | None = None) -> fields.String:
    metadata = {"format": "password"} | ({"description": description} if description else {})
    return fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH), metadata=metadata
    )


def _token(description: str) -> fields.String:
    return fields.String(
        required=True, validate=validate.Length(min=1, max=TOKEN_MAX_LENGTH), metadata={"description": description}
    )


def _name(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=150), **kwargs)


def _phone(**kwargs) -> fields.String:
    return fields.String(
        validate=[
            validate.Length(max=32),
            validate.Regexp(PHONE_PATTERN, error="Enter a valid phone number (digits, spaces, + - ( ) .)."),
        ],
        metadata={"example": "+1 555 0100"},
        **kwargs,
    )


# -- output ---------------------------------------------------------------------------------------------


class UserSchema(Schema):
    """A user account (never its password)."""

    id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    first_name = fields.String(dump_only=True)
    last_name = fields.String(dump_only=True)
    phone_number = fields.String(dump_only=True)
    is_verified = fields.Boolean(dump_only=True)
    is_staff = fields.Boolean(dump_only=True)
    date_joined = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class TokenPairSchema(Schema):
    """An access token (30 minutes by default) and a refresh token (7 days by default)."""

    access = fields.String(required=True, metadata={"description": "send as `Authorization: Bearer <access>`"})
    refresh = fields.String(required=True, metadata={"description": "exchange at /api/auth/jwt/refresh/"})


class RegistrationResultSchema(TokenPairSchema):
    """The new user, signed in."""

    user = fields.Nested(UserSchema, required=True)


class DetailSchema(Schema):
    """A human-readable confirmation."""

    detail = fields.String(required=True)


class PasswordChangeResultSchema(TokenPairSchema):
    """The password changed; every older token is refused, these new ones keep the client signed in."""

    detail = fields.String(required=True)


# -- input ----------------------------------------------------------------------------------------------


class RegistrationSchema(InputSchema):
    email = LowerEmail(required=True)
    password = _password()
    password2 = _password("the password again")
    first_name = _name(load_default="")
    last_name = _name(load_default="")
    phone_number = _phone(load_default="")


class LoginSchema(InputSchema):
    email = LowerEmail(required=True)
    password = _password()


class RefreshSchema(InputSchema):
    refresh = _token("a refresh token")


class VerifyTokenSchema(InputSchema):
    token = _token("an access or refresh token")


class LogoutSchema(InputSchema):
    refresh = fields.String(
        validate=validate.Length(max=TOKEN_MAX_LENGTH),
        metadata={"description": "the refresh token to revoke with the access token"},
    )


class UserUpdateSchema(InputSchema):
    """PUT: the whole editable set; a field left out is reset to empty."""

    first_name = _name(load_default="")
    last_name = _name(load_default="")
    phone_number = _phone(load_default="")


class UserPatchSchema(InputSchema):
    """PATCH: only the fields given change."""

    first_name = _name()
    last_name = _name()
    phone_number = _phone()


class PasswordChangeSchema(InputSchema):
    old_password = _password()
    new_password = _password()
    new_password2 = _password("the new password again")


class PasswordResetSchema(InputSchema):
    email = LowerEmail(required=True)


class PasswordResetConfirmSchema(InputSchema):
    token = _token("the token from the password reset email")
    new_password = _password()
    new_password2 = _password("the new password again")


class VerifyEmailSchema(InputSchema):
    key = _token("the key from the verification email")
