"""PostgreSQL: search_documents holds exactly the search vectors of the active products, through every write of a
product, and the public's searches of several words ranked from it answer what ranking products answers."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from nexus.catalog.models import Product, ProductStatus, SearchDocument
from nexus.catalog.services import demo
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.factories import OrderFactory, OrderItemFactory
from tests.helpers import count_queries

pytestmark = pytest.mark.skipif(not SERVICES, reason="PostgreSQL full-text search (NEXUS_TEST_SERVICES=1)")

PRODUCTS = "/api/store/products/"
PAIRS = ("cotton shirt", "linen shirt", "wool coat", "cotton linen", "soft cotton")


def stored_documents() -> set[tuple]:
    db.session.remove()
    return {tuple(row) for row in db.session.execute(select(SearchDocument.product_id, SearchDocument.search_vector))}


def active_vectors() -> set[tuple]:
    """What search_documents must hold: every active product's id and search vector, and nothing else."""
    return set(db.session.execute(text("SELECT id, search_vector FROM products WHERE status = 'active'")))


def assert_exact() -> None:
    stored = stored_documents()
    assert stored == active_vectors()
    assert all(vector for _id, vector in stored)


def ranked(words: str, *, staff: bool) -> list[int]:
    """Every match of a search of several words, best first, ranked on products (what the list did before)."""
    status = "" if staff else "AND status = 'active'"
    sql = (
        "SELECT id FROM products WHERE search_vector @@ websearch_to_tsquery('english', :w) "
        f"{status} ORDER BY ts_rank(search_vector, websearch_to_tsquery('english', :w)) DESC, id DESC"
    )
    return list(db.session.scalars(text(sql), {"w": words}))


def _ids(client, url: str, headers=None) -> list[int]:
    slugs = [item["slug"] for item in client.get(url, headers=headers or {}).json["results"]]
    return [db.session.scalar(select(Product.id).where(Product.slug == slug)) for slug in slugs]


def listed(client, words: str, headers=None, *, page_size: int = 4) -> tuple[int, list[int]]:
    """(count, every id page after page) of the list's search for these words."""
    query = f"{PRODUCTS}?search={quote(words)}&page_size={page_size}"
    count = client.get(query, headers=headers or {}).json["count"]
    pages = [_ids(client, f"{query}&page={page}", headers) for page in range(1, -(-count // page_size) + 1)]
    return count, [product_id for page in pages for product_id in page]


@pytest.fixture
def catalog(search_catalog):
    """The search tests' catalog (tests/catalog/conftest.py)."""


def test_the_documents_are_the_active_products_vectors(catalog):
    assert_exact()
    assert len(stored_documents()) == 24 - 5 - 3  # drafts 0, 5, 10, 15, 20; inactive 7, 14, 21


def test_the_documents_follow_every_product_write(client, admin_headers, catalog):
    def patch(slug: str, change: dict) -> None:
        assert client.patch(f"{PRODUCTS}{slug}/", json=change, headers=admin_headers).status_code == 200
        assert_exact()

    active = {"name": "Denim Jacket", "slug": "denim", "category": "tees", "status": "active", "description": "Denim."}
    assert client.post(PRODUCTS, json=active, headers=admin_headers).status_code == 201
    assert_exact()
    draft = {"name": "Denim Coat", "slug": "coat", "category": "tees", "description": "Denim, lined."}
    assert client.post(PRODUCTS, json=draft, headers=admin_headers).status_code == 201
    assert_exact()
    ids = {product_id for product_id, _vector in stored_documents()}
    assert db.session.scalar(select(Product.id).where(Product.slug == "denim")) in ids
    assert db.session.scalar(select(Product.id).where(Product.slug == "coat")) not in ids

    patch("coat", {"status": "active"})  # published
    patch("p-1", {"status": "inactive"})
    patch("p-2", {"status": "draft"})
    patch("p-3", {"status": "discontinued"})
    patch("p-2", {"status": "active"})  # back again
    patch("p-4", {"name": "Renamed Jumper"})
    patch("p-6", {"description": "Now with wool and cotton and wool."})
    patch("p-8", {"name": "Wool Shirt", "description": "Wool.", "status": "inactive"})
    patch("p-10", {"name": "A Renamed Draft"})  # a draft's new vector stays out
    patch("p-9", {"meta_title": "Nothing searchable", "low_stock_threshold": 3})
    assert client.delete(f"{PRODUCTS}p-11/", headers=admin_headers).status_code == 204
    assert_exact()
    sold = db.session.get(Product, db.session.scalar(select(Product.id).where(Product.slug == "p-13")))
    OrderItemFactory(order=OrderFactory(), variant=sold.variants[0])
    assert client.delete(f"{PRODUCTS}p-13/", headers=admin_headers).status_code == 204  # ordered: discontinued
    assert db.session.scalar(select(Product.status).where(Product.slug == "p-13")) == "discontinued"
    assert_exact()


def test_a_write_from_a_stale_object_keeps_them_exact(app, catalog):
    # The object says draft, but another transaction published the product before this one renames it: the
    # listener reads the status from the row it writes, not from the object.
    stale = db.session.scalar(select(Product).where(Product.slug == "p-5"))
    assert stale.status == "draft"
    with Session(db.engine) as other:
        other.scalar(select(Product).where(Product.slug == "p-5")).status = ProductStatus.ACTIVE
        other.commit()
    stale.name = "Cotton Shirt Published Elsewhere"
    db.session.commit()
    assert_exact()
    assert stale.id in {product_id for product_id, _vector in stored_documents()}


def test_the_documents_follow_the_admin_site(app, admin, catalog):
    from tests.admin.conftest import login, post_form

    staff = app.test_client()
    assert login(staff, admin.email).status_code == 302

    def edit(slug: str, **fields: str) -> int:
        product = db.session.scalar(select(Product).where(Product.slug == slug))
        data = {"name": product.name, "category_id": str(product.category_id), "status": product.status.value}
        data |= {"description": product.description} | fields
        assert post_form(staff, f"/admin/product/edit/?id={product.id}", data).status_code == 302
        assert_exact()
        return product.id

    edit("p-1", name="Site Renamed", status="draft")
    edit("p-0", status="active")
    edit("p-2", description="Wool, wool and cotton.")
    product_id = edit("p-3", name="Wool Linen Shirt")
    response = post_form(staff, "/admin/product/delete/", {"id": str(product_id)}, form_page="/admin/product/")
    assert response.status_code == 302
    assert db.session.get(Product, product_id) is None
    assert_exact()


@pytest.mark.parametrize("chunk", [1000, 7], ids=["one-chunk", "chunks-side-by-side"])
def test_the_seed_fills_the_documents(app, monkeypatch, chunk):
    monkeypatch.setattr(demo, "CHUNK", chunk)
    result = app.test_cli_runner().invoke(args=["seed-demo", "--products", "40", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert_exact()
    assert 0 < len(stored_documents()) < 40  # every status is seeded
    assert stored_in_category_order()
    # A second seed adds to the catalog: the table is written afresh, every row in category order again.
    result = app.test_cli_runner().invoke(args=["seed-demo", "--products", "30", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert_exact()
    assert stored_in_category_order()


def stored_in_category_order() -> bool:
    """The table's rows lie in the order of their products' (category, id), as a bulk load writes them."""
    db.session.remove()
    stored = db.session.scalars(text("SELECT product_id FROM search_documents ORDER BY ctid")).all()
    ordered = db.session.scalars(text("SELECT id FROM products WHERE status = 'active' ORDER BY category_id, id")).all()
    return len(stored) > 0 and stored == ordered


def test_public_searches_of_several_words_answer_what_ranking_products_answers(client, admin_headers, catalog):
    def check() -> None:
        for words in PAIRS:
            expected = ranked(words, staff=False)
            assert expected, f"the catalog must match {words!r}"
            assert listed(client, words) == (len(expected), expected)

    check()
    for slug, status in (("p-0", "active"), ("p-1", "draft"), ("p-3", "inactive"), ("p-7", "active")):
        response = client.patch(f"{PRODUCTS}{slug}/", json={"status": status}, headers=admin_headers)
        assert response.status_code == 200
        check()
    assert client.patch(f"{PRODUCTS}p-9/", json={"name": "Linen Shirt Again"}, headers=admin_headers).status_code == 200
    check()


def test_staff_searches_still_see_every_status(client, admin_headers, catalog):
    for words in PAIRS:
        expected = ranked(words, staff=True)
        assert listed(client, words, admin_headers) == (len(expected), expected)
    drafts = set(db.session.scalars(select(Product.id).where(Product.status == "draft")))
    assert drafts & set(listed(client, "cotton shirt", admin_headers)[1])
    assert not drafts & set(listed(client, "cotton shirt")[1])


def test_other_orders_and_filters_count_the_same(client, catalog, tree):
    expected = ranked("cotton shirt", staff=False)
    by_price = _ids(client, f"{PRODUCTS}?search=cotton+shirt&ordering=price&page_size=50")
    assert sorted(by_price) == sorted(expected)
    body = client.get(f"{PRODUCTS}?search=cotton+shirt&ordering=price&page=2&page_size=3").json
    assert body["count"] == len(expected)
    tees = set(db.session.scalars(select(Product.id).where(Product.category_id == tree.tees)))
    in_tees = _ids(client, f"{PRODUCTS}?search=cotton+shirt&category=tees&page_size=50")
    assert in_tees == [product_id for product_id in expected if product_id in tees]


def test_the_public_ranks_from_the_narrow_rows_and_staff_from_products(client, admin_headers, catalog):
    for headers, narrow in (({}, True), (admin_headers, False)):
        with count_queries() as statements:
            assert client.get(f"{PRODUCTS}?search=cotton+shirt&page_size=3", headers=headers).status_code == 200
        page = next(s for s in statements if "LIMIT" in s)
        count = next(s for s in statements if "count(" in s.lower() and "search_vector" in s)
        assert ("search_documents" in page) is narrow
        assert ("search_documents" in count) is narrow
        assert "ts_rank(" in page
