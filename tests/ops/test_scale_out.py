"""Two app instances (separate gunicorn processes) on one PostgreSQL and Redis behave as one shop."""

from __future__ import annotations

import json

import pytest

from tests.factories import PASSWORD, UserFactory, product_with_variants
from tests.ops.conftest import AppServer, auth, login, needs_services

pytestmark = needs_services

PRODUCT = "/api/store/products/linen-shirt/"


@pytest.fixture(scope="module")
def two_instances(app, tmp_path_factory):
    """Instances A and B on the session's database, Redis and broker; B counts metrics in gunicorn's
    multiprocess mode (PROMETHEUS_MULTIPROC_DIR)."""
    a = AppServer("instance-a")
    b = AppServer("instance-b", PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("metrics")))
    yield a, b
    a.stop()
    b.stop()


def test_a_token_revoked_on_one_instance_is_refused_by_the_other(two_instances):
    a, b = two_instances
    UserFactory(email="shopper@example.com", is_verified=True)
    tokens = login(a, "shopper@example.com", PASSWORD)
    assert b.get("/api/auth/user/", headers=auth(tokens["access"])).status_code == 200

    assert (
        a.post("/api/auth/logout/", json={"refresh": tokens["refresh"]}, headers=auth(tokens["access"])).status_code
        == 204
    )

    refused = b.get("/api/auth/user/", headers=auth(tokens["access"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == 401
    assert b.post("/api/auth/jwt/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401


def test_a_price_changed_through_one_instance_is_served_fresh_by_the_other(two_instances):
    a, b = two_instances
    product = product_with_variants(name="Linen Shirt", slug="linen-shirt")
    UserFactory(email="staff@example.com", is_staff=True, is_verified=True)
    staff = login(a, "staff@example.com", PASSWORD)
    assert b.get(PRODUCT).json()["price"] == "25.00"  # now cached in Redis, for both instances
    assert a.get(PRODUCT).json()["price"] == "25.00"

    variant_id = product.variants[0].id
    changed = a.patch(f"{PRODUCT}variants/{variant_id}/", json={"price": "19.00"}, headers=auth(staff["access"]))
    assert changed.status_code == 200

    assert b.get(PRODUCT).json()["price"] == "19.00"
    assert b.get("/api/store/products/").json()["results"][0]["price"] == "19.00"


def test_each_instance_logs_json_lines_with_the_request_id_and_serves_metrics(two_instances):
    a, b = two_instances
    assert (
        a.get("/healthz", headers={"X-Request-ID": "scale-out-check-1"}).headers["X-Request-ID"] == "scale-out-check-1"
    )
    assert b.get("/api/store/products/").status_code == 200

    access = [json.loads(line) for line in a.log().splitlines() if '"scale-out-check-1"' in line]
    assert access and access[0]["status"] == 200 and access[0]["path"] == "/healthz"
    metrics = b.get("/metrics").text  # multiprocess mode: read from the shared directory
    assert 'flask_http_request_duration_seconds_count{endpoint="catalog.Products",method="GET",status="200"}' in metrics
