"""One error shape for every failure: {code, status, message, errors?}."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class NexusError(Exception):
    """A domain error; each subclass carries its HTTP status and a default message."""

    status_code = 400
    message = "Bad request."

    def __init__(self, message: str | None = None, *, errors: dict | None = None, details: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors
        self.details = details


class ValidationFailed(NexusError):
    """Input that the schema accepted but the rules refuse, reported per field like schema errors."""

    status_code = 400
    message = "Validation failed"


class NotFound(NexusError):
    status_code = 404
    message = "Not found."


class Forbidden(NexusError):
    status_code = 403
    message = "You do not have permission to perform this action."


class Unauthorized(NexusError):
    status_code = 401
    message = "Authentication credentials were not provided or are invalid."


class Conflict(NexusError):
    status_code = 409
    message = "The request conflicts with the current state of the resource."


class ServiceUnavailable(NexusError):
    status_code = 503
    message = "The service is temporarily unavailable; try again shortly."


class ErrorSchema(Schema):
    """The error body of every non-2xx answer."""

    code = fields.Integer(required=True, metadata={"example": 400})
    status = fields.String(required=True, metadata={"example": "Bad Request"})
    message = fields.String(required=True, metadata={"example": "Validation failed"})
    errors = fields.Dict(
        metadata={
            "description": "location → field → messages, for validation errors",
            "example": {"json": {"quantity": ["Must be greater than or equal to 1."]}},
        }
    )
    details = fields.Dict(metadata={"description": "machine-readable context, e.g. the short lines of a 409"})


def error_response(code: int, message: str | None = None, *, errors=None, details=None, headers=None):
    status = HTTPStatus(code).phrase
    body = {"code": code, "status": status, "message": message or status}
    if errors:
        body["errors"] = errors
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = code
    if headers:
        response.headers.update(headers)
    return response


def _http_error(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    headers.update(data.get("headers") or {})
    if messages is not None:
        errors = messages if isinstance(messages, dict) else {"json": {"_schema": messages}}
        return error_response(exc.code, "Validation failed", errors=errors, headers=headers)
    message = data.get("message") or exc.description
    if exc.code == 429:
        message = f"Too many requests: limit of {exc.description}. Try again later."
    return error_response(exc.code, message, headers=headers)


def _nexus_error(exc: NexusError):
    errors = exc.errors
    if isinstance(exc, ValidationFailed) and errors and not errors.keys() & {"json", "query", "form"}:
        errors = {"json": errors}
    return error_response(exc.status_code, exc.message, errors=errors, details=exc.details)


def _database_down(exc: OperationalError):
    log.error("database unavailable: %s", exc.orig)
    return error_response(503, ServiceUnavailable.message, headers={"Retry-After": "5"})


def _database_error(exc: DBAPIError):
    # A connection lost mid-request ("connection already closed") is an outage too, not a bug.
    if isinstance(exc, InterfaceError) or exc.connection_invalidated:
        return _database_down(exc)
    return _unexpected(exc)


def _unexpected(exc: Exception):
    log.exception("unhandled error")
    return error_response(500, "An unexpected error occurred. It has been logged.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(NexusError, _nexus_error)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)
