"""The Blueprint every domain uses: 400 for bad input, and auth decorators that document themselves."""

from __future__ import annotations

from functools import wraps

import flask_smorest
from flask_jwt_extended import current_user, verify_jwt_in_request
from webargs.core import MultiDictProxy
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from nexus.common.errors import ErrorSchema, Forbidden


class NexusParser(FlaskParser):
    # The contract answers every validation error with 400, not webargs' 422.
    DEFAULT_VALIDATION_STATUS = 400

    def load_form(self, req, schema):
        # A form's fields and its uploaded files are one body (multipart/form-data), checked by one schema.
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = NexusParser()

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
