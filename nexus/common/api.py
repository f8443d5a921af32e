"""The Blueprint every domain uses: 400 for bad input, and auth decorators that document themselves."""

from __future__ import annotations

from collections.abc import Mapping
from functools import wraps

import flask_smorest
from flask import request
from flask_jwt_extended import current_user, verify_jwt_in_request
from marshmallow import ValidationError
from webargs.core import MultiDictProxy
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from nexus.common.errors import ErrorSchema, Forbidden, NotFound


class NexusParser(FlaskParser):
    # The contract answers every validation error with 400, not webargs' 422.
    DEFAULT_VALIDATION_STATUS = 400

    def load_form(self, req, schema):
        # A form's fields and its uploaded files are one body (multipart/form-data), checked by one schema.
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def pre_load(self, location_data, *, schema, req, location):
        # PostgreSQL cannot store or even compare a text holding NUL: refuse it as bad input, never a 500.
        field = _field_with_nul(location_data)
        if field is not None:
            raise ValidationError({field: ["NUL characters are not allowed."]})
        # A multipart part without a name would be reported under the key None, which no JSON answer can hold.
        if location == "form" and any(key is None for key in location_data.data.keys()):
            raise ValidationError({"_schema": ["Every form field needs a name."]})
        return location_data


def _refuse_nul_in_path() -> None:
    # No slug holds a NUL, and PostgreSQL refuses to compare one: such a path names nothing.
    if any(isinstance(value, str) and "\x00" in value for value in (request.view_args or {}).values()):
        raise NotFound()


def _field_with_nul(data, name: str = "_schema") -> str | None:
    """The name of the first field whose name or text (at any depth) holds a NUL character, else None."""
    if isinstance(data, MultiDictProxy):
        data = data.data
    if isinstance(data, str):
        return name if "\x00" in data else None
    if isinstance(data, MultiDict):
        pairs = ((key, value) for key, values in data.lists() for value in values)
    elif isinstance(data, Mapping):
        pairs = data.items()
    elif isinstance(data, list | tuple):
        pairs = ((name, value) for value in data)
    else:
        return None
    for key, value in pairs:
        if isinstance(key, str) and "\x00" in key:
            return "_schema"
        found = _field_with_nul(value, key if isinstance(key, str) and name == "_schema" else name)
        if found is not None:
            return found
    return None


# Ids are 32-bit on PostgreSQL: a larger id in a path can name no row, so routing answers 404 before any query.
MAX_ID = 2**31 - 1


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = NexusParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_request(_refuse_nul_in_path)

    def route(self, rule: str, *args, **kwargs):
        return super().route(rule.replace("<int:", f"<int(max={MAX_ID}):"), *args, **kwargs)

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's, with a schema class instantiated once, here: given the class, webargs makes an instance
        on every request (a deep copy of its fields, and of a nested schema's)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def login_required(self, *, admin: bool = False, refresh: bool = False):
        """Require a valid access token (or refresh token); with admin=True, a staff user.

        Put it above @arguments: authentication and permission are checked before the body.
        """

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                verify_jwt_in_request(refresh=refresh)
                if admin and not current_user.is_staff:
                    raise Forbidden()
                return func(*args, **kwargs)

            documented = self.alt_response(
                401, schema=ErrorSchema, description="Missing, invalid, expired or revoked token"
            )(wrapper)
            if admin:
                documented = self.alt_response(403, schema=ErrorSchema, description="Not a staff user")(documented)
            return self.doc(security=[{"bearerAuth": []}])(documented)

        return decorator

    def admin_required(self):
        return self.login_required(admin=True)

    def documents(self, *codes: int):
        """Document the error answers (404, 409, ...) an operation can give, in the error shape."""

        def decorator(func):
            for code in codes:
                func = self.alt_response(code, schema=ErrorSchema)(func)
            return func

        return decorator
