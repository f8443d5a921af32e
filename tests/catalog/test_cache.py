"""Cached public reads: served without SQL, never stale after a write's answer, bypassed when the cache fails."""

from __future__ import annotations

import pytest

from nexus.catalog.models import MovementReason
from nexus.catalog.services import StockLine, take_stock
from nexus.common.cache import _health, bump, cache_key
from nexus.common.outbox import commit
from nexus.extensions import cache
from tests.catalog.conftest import image_bytes, upload
from tests.conftest import SERVICES
from tests.factories import product_with_variants
from tests.helpers import count_queries

PRODUCT = "/api/store/products/linen-shirt/"
READS = [
    "/api/store/products/",
    "/api/store/products/?size=M&ordering=price",
    PRODUCT,
    PRODUCT + "variants/",
    PRODUCT + "reviews/",
    "/api/store/categories/",
    "/api/store/categories/tops/",
]


@pytest.fixture
def shop(tree, product, admin_headers, client):
    """The linen shirt moved into "tops"."""
    assert client.patch(PRODUCT, json={"category": "tops"}, headers=admin_headers).status_code == 200
    return product


@pytest.mark.parametrize("url", READS)
def test_a_second_public_read_runs_no_sql(client, shop, url):
    first = client.get(url)
    assert first.status_code == 200
    with count_queries() as statements:
        second = client.get(url)
    assert second.json == first.json
    assert statements == []


def test_a_customers_read_is_cached_too(client, shop, customer_headers):
    client.get(PRODUCT, headers=customer_headers)
    with count_queries() as statements:
        assert client.get(PRODUCT, headers=customer_headers).status_code == 200
    assert all("users" in statement for statement in statements)  # the token's user only, nothing of the catalog


def test_staff_reads_are_never_cached_nor_shared(client, shop, admin_headers):
    client.patch(PRODUCT, json={"status": "draft"}, headers=admin_headers)
    assert client.get(PRODUCT, headers=admin_headers).status_code == 200
    with count_queries() as statements:
        assert client.get(PRODUCT, headers=admin_headers).json["status"] == "draft"
    assert len(statements) > 2
    assert client.get(PRODUCT).status_code == 404
    assert client.get("/api/store/products/").json["count"] == 0


def _read(client, url="/api/store/products/linen-shirt/"):
    response = client.get(url)
    assert response.status_code == 200
    return response.json


def test_variant_changes_show_at_once(client, shop, admin_headers):
    _read(client), _read(client, "/api/store/products/?ordering=price"), _read(client, PRODUCT + "variants/")
    variant = shop.variant_ids[0]
    client.patch(f"{PRODUCT}variants/{variant}/", json={"price": "5.00", "stock": 2}, headers=admin_headers)
    assert _read(client)["price"] == "5.00"
    assert _read(client, "/api/store/products/?ordering=price")["results"][0]["price"] == "5.00"
    assert _read(client, PRODUCT + "variants/")["results"][0]["stock"] == 2
    client.post(f"{PRODUCT}variants/", json={"sku": "n-xs", "size": "XS", "price": "1.00"}, headers=admin_headers)
    assert _read(client)["price"] == "1.00"
    client.delete(f"{PRODUCT}variants/{variant}/", headers=admin_headers)
    assert [v["size"] for v in _read(client)["variants"]] == ["XS", "M", "L"]


def test_stock_taken_by_an_order_shows_at_once(client, shop):
    assert _read(client)["variants"][0]["stock"] == 10
    take_stock([StockLine(shop.variant_ids[0], 10)], reason=MovementReason.SALE)
    commit()
    detail = _read(client)
    assert (detail["variants"][0]["stock"], detail["variants"][0]["low_stock"]) == (0, True)
    assert _read(client, "/api/store/products/?size=S")["count"] == 0


@pytest.mark.parametrize("quantity", [3, 10])  # from plenty; the last units (the summary is refreshed too)
def test_a_sale_lets_the_products_go_once(shop, monkeypatch, quantity):
    """Every sale lets cached product reads go, once per transaction however many steps ask for it."""
    from nexus.common import cache as response_cache

    bumped = []
    monkeypatch.setattr(response_cache, "_set_new_version", bumped.append)
    take_stock([StockLine(shop.variant_ids[0], quantity)], reason=MovementReason.SALE)
    commit()
    assert bumped == ["products"]


def test_product_changes_show_at_once(client, shop, admin_headers):
    _read(client), _read(client, "/api/store/products/")
    client.patch(PRODUCT, json={"name": "Linen Shirt Deluxe"}, headers=admin_headers)
    assert _read(client)["name"] == "Linen Shirt Deluxe"
    client.patch(PRODUCT, json={"status": "inactive"}, headers=admin_headers)
    assert client.get(PRODUCT).status_code == 404
    assert _read(client, "/api/store/products/")["count"] == 0
    assert client.get(PRODUCT + "reviews/").status_code == 404
    client.patch(PRODUCT, json={"status": "active"}, headers=admin_headers)
    assert _read(client, "/api/store/products/")["count"] == 1
    product_with_variants(slug="new-arrival")  # made outside the API: the next write still shows it
    client.delete(PRODUCT, headers=admin_headers)
    assert [p["slug"] for p in _read(client, "/api/store/products/")["results"]] == ["new-arrival"]


def test_category_changes_show_at_once(client, shop, admin_headers):
    _read(client), _read(client, "/api/store/categories/"), _read(client, "/api/store/categories/tops/")
    client.patch("/api/store/categories/tops/", json={"name": "Shirts & Tops"}, headers=admin_headers)
    assert _read(client)["category"]["name"] == "Shirts & Tops"
    assert _read(client, "/api/store/categories/tops/")["name"] == "Shirts & Tops"
    assert "Shirts & Tops" in [c["name"] for c in _read(client, "/api/store/categories/")["results"]]
    client.patch("/api/store/categories/tops/", json={"parent": "shoes"}, headers=admin_headers)
    assert _read(client, "/api/store/products/?category=shoes")["count"] == 1
    assert _read(client, "/api/store/products/?category=clothing")["count"] == 0
    client.post("/api/store/categories/", json={"name": "Hats"}, headers=admin_headers)
    assert "hats" in [c["slug"] for c in _read(client, "/api/store/categories/")["results"]]


def test_review_and_image_changes_show_at_once(client, shop, admin_headers, customer_headers):
    _read(client), _read(client, PRODUCT + "reviews/"), _read(client, "/api/store/products/?min_rating=4")
    review = client.post(PRODUCT + "reviews/", json={"rating": 5, "comment": "x"}, headers=customer_headers).json
    assert (_read(client)["average_rating"], _read(client)["review_count"]) == (5.0, 1)
    assert _read(client, PRODUCT + "reviews/")["count"] == 1
    assert _read(client, "/api/store/products/?min_rating=4")["count"] == 1
    client.patch(PRODUCT + f"reviews/{review['id']}/", json={"rating": 1}, headers=customer_headers)
    assert _read(client)["average_rating"] == 1.0
    client.delete(PRODUCT + f"reviews/{review['id']}/", headers=customer_headers)
    assert _read(client, PRODUCT + "reviews/")["count"] == 0

    image = upload(client, PRODUCT + "images/", admin_headers, image_bytes()).json
    assert _read(client)["main_image"] == image["image"]
    client.delete(PRODUCT + f"images/{image['id']}/", headers=admin_headers)
    assert _read(client)["main_image"] is None


class _BrokenCache:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        raise ConnectionError("cache is down")


def test_a_failing_cache_is_bypassed(client, shop, admin_headers, monkeypatch):
    broken = _BrokenCache()
    # Try the cache on every call (no pause after a failure), so each read meets the broken cache.
    monkeypatch.setitem(client.application.config, "CACHE_RETRY_AFTER_SECONDS", 0)
    for method in ("get", "get_many", "set", "add", "delete"):
        monkeypatch.setattr(cache, method, broken)
    for url in READS:
        assert client.get(url).status_code == 200, url
    assert client.patch(f"{PRODUCT}variants/{shop.variant_ids[0]}/", json={"price": "7.00"}, headers=admin_headers)
    assert _read(client)["price"] == "7.00"
    assert client.patch(PRODUCT, json={"status": "draft"}, headers=admin_headers).status_code == 200
    assert client.get(PRODUCT).status_code == 404
    assert broken.calls > len(READS)


@pytest.mark.parametrize("url", READS)
def test_a_cache_hit_sends_the_same_json_as_the_miss(client, shop, url):
    # The cache holds the JSON text itself: a hit is sent as it is, with the same body and type as the miss.
    first = client.get(url + ("&" if "?" in url else "?") + "page=1")
    second = client.get(url + ("&" if "?" in url else "?") + "page=1")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.mimetype == second.mimetype == "application/json"
    assert second.get_data() == first.get_data()
    assert first.json == client.get(url).json | ({"next": None, "previous": None} if "count" in first.json else {})


def test_the_list_envelope_links_are_per_request_around_cached_items(client, shop):
    product_with_variants(name="Wool Coat")
    first = client.get("/api/store/products/?page_size=1&ordering=name")
    second = client.get("/api/store/products/?ordering=name&page_size=1")
    assert first.json["results"] == second.json["results"] and first.json["count"] == 2
    assert first.json["next"].endswith("?page_size=1&ordering=name&page=2")
    assert second.json["next"].endswith("?ordering=name&page_size=1&page=2")
    assert client.get(first.json["next"]).json["previous"].endswith("?page_size=1&ordering=name&page=1")


def _doctor(client, url: str, old: bytes, new: bytes) -> tuple[str, bytes]:
    """Rewrite the shared entry of `url` in place (it keeps its key and version), as another process could have
    built it, and drop this process's copies so that the next read takes the shared entry. → (key, old body)"""
    with client.application.app_context():
        key = cache_key("products", ["http", "localhost", "", url + "?"])  # public_read's key: the URL
        version, body = cache.get(key)
        cache.set(key, (version, body.replace(old, new)))
        _health().copies.clear()
    return key, body


def test_an_entry_built_under_an_older_version_is_never_served(client, shop):
    client.get(PRODUCT)
    key, body = _doctor(client, PRODUCT, b"Linen Shirt", b"Stale Shirt")
    assert client.get(PRODUCT).json["name"] == "Stale Shirt"  # what a hit serves is the entry
    with client.application.app_context():
        bump("products")
        assert cache.get(key)[1] != body  # still there, under its older version
    response = client.get(PRODUCT)
    assert response.status_code == 200 and response.json["name"] == "Linen Shirt"


def test_the_process_copy_is_served_while_the_version_stands_and_never_after_a_bump(client, shop):
    client.get(PRODUCT)  # miss: built, stored, and copied in the process
    client.get(PRODUCT)  # hit: the process's copy, only the version read
    with client.application.app_context():
        key = cache_key("products", ["http", "localhost", "", PRODUCT + "?"])
        version, body = cache.get(key)
        cache.set(key, (version, body.replace(b"Linen Shirt", b"Shared Shirt")))
    # The copy is served (the shared entry, rewritten, is not even read) while the version is the same...
    with count_queries() as queries:
        assert client.get(PRODUCT).json["name"] == "Linen Shirt"
    assert queries == []
    # ... and never once a write (in any process) bumped the version: then the database is read again.
    with client.application.app_context():
        bump("products")
    with count_queries() as queries:
        assert client.get(PRODUCT).json["name"] == "Linen Shirt"
    assert queries


def test_an_outdated_copy_takes_the_entry_another_process_built_under_the_new_version(client, shop):
    client.get(PRODUCT)
    with client.application.app_context():
        key = cache_key("products", ["http", "localhost", "", PRODUCT + "?"])
        body = cache.get(key)[1]
        bump("products")  # this process's copy is outdated now
        cache.set(key, (cache.get("version:products"), body.replace(b"Linen Shirt", b"Rebuilt Shirt")))
    with count_queries() as queries:
        assert client.get(PRODUCT).json["name"] == "Rebuilt Shirt"
    assert queries == []


def test_a_hit_is_answered_before_the_query_is_parsed(client, shop, monkeypatch):
    from nexus.catalog.schemas import ProductQueryArgsSchema

    url = "/api/store/products/?size=M&ordering=price"
    assert client.get(url).status_code == 200
    calls = []
    monkeypatch.setattr(ProductQueryArgsSchema, "load", lambda *args, **kwargs: calls.append(1))
    assert client.get(url).status_code == 200 and calls == []
    # An invalid query is never a hit: it is parsed, refused, and the refusal is not cached.
    monkeypatch.undo()
    assert client.get("/api/store/products/?size=Q").status_code == 400
    assert client.get("/api/store/products/?size=Q").status_code == 400


def test_the_process_copies_stay_within_their_byte_budget(client, shop, monkeypatch):
    import nexus.common.cache as cache_module

    body = client.get(PRODUCT + "?n=0").get_data()
    monkeypatch.setattr(cache_module, "LOCAL_COPY_BYTES", 16 * len(body))  # room for 16 such bodies
    with client.application.app_context():
        health = _health()  # the app's own, kept between requests
    health.copies.clear()
    health.copied_bytes = 0
    for n in range(1, 41):
        assert client.get(f"{PRODUCT}?n={n}").status_code == 200
        assert health.copied_bytes == sum(len(value) for _version, value in health.copies.values())
        assert 0 < health.copied_bytes <= cache_module.LOCAL_COPY_BYTES
    assert 0 < len(health.copies) <= 16


# -- the version read of a hit on a process copy ------------------------------------------------------------


def _reader():
    """This thread's connection for version reads, if it has one."""
    return getattr(_health().readers, "connection", None)


def test_a_hit_on_a_process_copy_reads_the_version_as_the_cache_holds_it(app, client, shop):
    from nexus.common.cache import _read_version, _version_key

    first = client.get(PRODUCT).get_data()
    assert client.get(PRODUCT).get_data() == first  # served from the process copy, after a version read
    with app.app_context():
        assert _read_version(_health(), "products") == cache.get(_version_key("products")) is not None
        bump("products")
        assert _read_version(_health(), "products") == cache.get(_version_key("products"))
        on_redis = _reader() is not None
    assert on_redis == SERVICES  # its own connection on Redis; the cache's get on the in-process cache


@pytest.mark.skipif(not SERVICES, reason="a Redis connection of its own (NEXUS_TEST_SERVICES=1)")
def test_the_version_readers_connection_is_made_again_after_a_drop_an_error_or_a_fork(app, client, shop, monkeypatch):
    import redis

    client.get(PRODUCT)
    client.get(PRODUCT)  # a version read on the reader's connection
    with app.app_context():
        reader = _reader()
        reader.send_command("CLIENT", "ID")
        reader_id = reader.read_response()
        killed = redis.Redis.from_url(app.config["CACHE_REDIS_URL"]).client_kill_filter(_id=reader_id)
    assert killed == 1
    # Dropped by the server: read again at once on a new connection, and the copy served.
    with count_queries() as statements:
        assert client.get(PRODUCT).status_code == 200
    assert statements == []
    with app.app_context():
        reader.send_command("CLIENT", "ID")
        assert reader.read_response() != reader_id

    # Any other error: the read is answered from the database, and the connection dropped.
    def times_out(*_args, **_kwargs):
        raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(type(reader), "read_response", times_out)
    with count_queries() as statements:
        assert client.get(PRODUCT).status_code == 200
    assert statements
    monkeypatch.undo()
    with app.app_context():
        assert _reader()._sock is None
        _health().down_until = 0  # the outage's pause over
    with count_queries() as statements:
        assert client.get(PRODUCT).status_code == 200
    assert statements == []

    with app.app_context():
        _health().readers.pid = -1  # as in a process forked from this one
    with count_queries() as statements:
        assert client.get(PRODUCT).status_code == 200
    assert statements == []
    with app.app_context():
        assert _reader() is not reader
