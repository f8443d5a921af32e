"""The application shell: health, docs, error shape, settings."""

import subprocess
import sys

import pytest

from nexus.config import ConfigError
from tests.conftest import ROOT


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_every_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}


def test_unknown_path_is_404_in_the_error_shape(client):
    response = client.get("/api/store/nothing-here/")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["status"] == "Not Found"
    assert response.json["message"]


def test_wrong_method_is_405_in_the_error_shape(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json["code"] == 405
    assert response.json["status"] == "Method Not Allowed"


def test_production_refuses_to_start_without_secrets(monkeypatch):
    from nexus import create_app

    monkeypatch.setenv("NEXUS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY and JWT_SECRET_KEY"):
        create_app()


def test_postgres_settings_build_the_database_url(monkeypatch):
    from nexus.config import database_url

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("POSTGRES_HOST", "db")
    monkeypatch.setenv("POSTGRES_PORT", "5433")
    monkeypatch.setenv("POSTGRES_USER", "shop")
    monkeypatch.setenv("POSTGRES_PASSWORD", "p@ss")
    monkeypatch.setenv("POSTGRES_DB", "store")
    assert database_url() == "postgresql+psycopg2://shop:p%40ss@db:5433/store"


@pytest.mark.parametrize("path", ["/swagger/", "/redoc/"])
def test_doc_pages_load_their_assets_from_this_server(client, path):
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http" not in html.split("<body", 1)[1].replace("http-equiv", "")
    for asset in (
        ("/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css")
        if path == "/swagger/"
        else ("/static/redoc/redoc.standalone.js",)
    ):
        assert asset in html
        with client.get(asset) as response:
            assert response.status_code == 200


def test_openapi_document_declares_bearer_auth(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "/healthz" in spec["paths"]


@pytest.mark.parametrize(
    "module", ["nexus.catalog.models", "nexus.cart.models", "nexus.orders.models", "nexus.catalog.services"]
)
def test_each_domain_imports_on_its_own(module):
    # A fresh interpreter importing only this module (as a Celery worker's app module may): statements built
    # once must not configure the mappers before every model is imported.
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
