"""The Alembic migrations build the whole schema from empty and agree with the models."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

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


@pytest.mark.skipif(not SERVICES, reason="search_documents is filled on PostgreSQL only")
def test_the_search_documents_migration_fills_it_from_the_active_products(app, fresh_database_url):
    flask_db(fresh_database_url, "upgrade", "9deccf7632c2")  # the revision before it
    engine = create_engine(fresh_database_url)
    vector = "setweight(to_tsvector('english', :name), 'A') || setweight(to_tsvector('english', :text), 'B')"
    try:
        with engine.begin() as connection:
            category = connection.execute(
                text(
                    "INSERT INTO categories (name, slug, description, is_active, created_at, updated_at) "
                    "VALUES ('Tops', 'tops', '', true, now(), now()) RETURNING id"
                )
            ).scalar_one()
            for n, status in enumerate(("active", "draft", "inactive", "discontinued", "active")):
                connection.execute(
                    text(
                        "INSERT INTO products (name, slug, description, category_id, status, meta_title, "
                        "meta_description, in_stock, review_count, created_at, updated_at, search_vector) "
                        f"VALUES (:name, :slug, :text, :category, :status, '', '', false, 0, now(), now(), {vector})"
                    ),
                    {"name": f"Cotton Shirt {n}", "slug": f"p-{n}", "text": "Soft cotton.", "category": category}
                    | {"status": status},
                )
        flask_db(fresh_database_url, "upgrade")
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT product_id, search_vector FROM search_documents")))
            active = set(connection.execute(text("SELECT id, search_vector FROM products WHERE status = 'active'")))
        assert len(stored) == 2 and stored == active
        flask_db(fresh_database_url, "downgrade", "9deccf7632c2")
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT to_regclass('search_documents')")) is None
    finally:
        engine.dispose()
