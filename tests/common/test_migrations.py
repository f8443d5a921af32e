"""The Alembic migrations build the whole schema from empty and agree with the models."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tests import services
from tests.conftest import ROOT, SERVICES, TMP


@pytest.fixture
def fresh_database_url():
    """An empty database of the run's kind (SQLite file, or a new PostgreSQL database dropped afterwards)."""
    if SERVICES:
        url = f"{services.POSTGRES_URL}/nexus_migrations_{secrets.token_hex(4)}"
        services.create_database(url)
        yield url
        services.drop_database(url)
    else:
        yield f"sqlite:///{TMP / f'migrations-{secrets.token_hex(4)}.db'}"


def flask_db(url: str, *args: str) -> None:
    # A separate process, as operators run it: building a second app here would change process-wide state.
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi:app"}
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_migrations_build_the_schema_the_models_describe(app, fresh_database_url):
    from nexus.extensions import db

    flask_db(fresh_database_url, "upgrade")
    engine = create_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    finally:
        engine.dispose()
    assert differences == [], f"models and migrations disagree: {differences}"


def test_migrations_downgrade_to_empty_and_upgrade_again(app, fresh_database_url):
    flask_db(fresh_database_url, "upgrade")
    flask_db(fresh_database_url, "downgrade", "base")
    flask_db(fresh_database_url, "upgrade")
