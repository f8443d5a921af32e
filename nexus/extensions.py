"""The Flask extensions, created once here and bound to the app by create_app."""

import sqlite3

import jwt as pyjwt
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from nexus.common.errors import ErrorSchema

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, _record) -> None:
    # SQLite ignores foreign keys unless asked: the embedded default keeps the same integrity as PostgreSQL.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects keep their values after commit: responses are serialised without reloading every row.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


class NexusJWTManager(JWTManager):
    """flask-jwt-extended's manager, decoding a request's token once rather than three times.

    Its `_decode_jwt_from_config` (flask-jwt-extended 4.7) parses every token twice unverified, its claims then
    its header, so that a `decode_key_loader` may pick the key by them, then decodes it verified. Nexus sets no
    such loader (one HS256 key from the config), so only the verified decode is needed: 28 µs against 77 a
    request, measured (bench/README.md, "Eleventh pass"). Everything else is the library's own: the same
    verification (`_decode_jwt`, with the same settings), the same errors, and an expired token's header and
    claims attached to its error as the library attaches them. With a decode_key_loader set, the library's path
    runs as it is."""

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None, allow_expired: bool = False) -> dict:
        if self._decode_key_callback is not default_decode_key_callback:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        settings = {
            "algorithms": jwt_config.decode_algorithms,
            "audience": jwt_config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": jwt_config.identity_claim_key,
            "issuer": jwt_config.decode_issuer,
            "leeway": jwt_config.leeway,
            "secret": jwt_config.decode_key,
            "verify_aud": jwt_config.decode_audience is not None,
            "verify_sub": jwt_config.verify_sub,
        }
        try:
            return _decode_jwt(**settings, allow_expired=allow_expired)
        except pyjwt.ExpiredSignatureError as exc:
            exc.jwt_header = pyjwt.get_unverified_header(encoded_token)  # type: ignore[attr-defined]
            exc.jwt_data = _decode_jwt(**settings, allow_expired=True)  # type: ignore[attr-defined]
            raise


jwt = NexusJWTManager()


class NexusApi(Api):
    ERROR_SCHEMA = ErrorSchema


api = NexusApi()
cache = Cache()
cors = CORS()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
