"""Reads that need no transaction (nexus.common.database.read_connection): autocommit on PostgreSQL, the
session's own connection on SQLite, and always given back at the end of the request. Statements marked PREPARED:
server-side prepared statements on PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import bindparam, create_engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from nexus.cart.models import Cart
from nexus.catalog.models import MovementReason, ProductVariant, StockMovement
from nexus.common.database import PREPARED, _prepared_forms, engines, read_connection, run, run_rows, run_together
from nexus.common.models import utcnow
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.factories import product_with_variants
from tests.helpers import count_queries, count_round_trips
from tests.orders.conftest import ADDRESS, ORDERS

CART_ADD = "/api/store/carts/add_item/"
ORDER_BODY = {"shipping_address": ADDRESS}


@pytest.mark.skipif(not SERVICES, reason="the read engine exists on PostgreSQL only")
def test_on_postgresql_reads_run_in_autocommit_on_their_own_engine(app):
    with app.test_request_context():
        connection = read_connection()
        assert connection is read_connection()  # one per request
        assert connection.engine is not db.engine and connection.engine in engines()
        assert connection.connection.dbapi_connection.autocommit is True  # no BEGIN, no ROLLBACK
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar_one() == "read committed"


@pytest.mark.skipif(SERVICES, reason="SQLite, the embedded default")
def test_on_sqlite_reads_use_the_sessions_connection(app):
    with app.test_request_context():
        assert read_connection() is db.session.connection()
        assert engines() == [db.engine]


def test_the_read_connection_is_given_back_after_each_request(app, client):
    product_with_variants(name="Linen Shirt")
    for _ in range(3):
        assert client.get("/api/store/products/?search=never-asked").status_code == 200
    with app.app_context():
        assert all(engine.pool.checkedout() == 0 for engine in engines())


# -- server-side prepared statements (nexus.common.database.PREPARED) --------------------------------------------


def test_a_marked_statements_prepared_form_numbers_its_parameters_in_order_of_first_use():
    name, prepare, execute = _prepared_forms("SELECT %(b)s, %(a)s WHERE x = %(b)s AND y LIKE 'a%%'")
    assert name.startswith("nx_") and _prepared_forms("SELECT 1 WHERE x = %(b)s")[0] != name
    assert prepare == f"PREPARE {name} AS SELECT $1, $2 WHERE x = $1 AND y LIKE 'a%'"
    assert execute == f"EXECUTE {name}(%(b)s, %(a)s)"


def _runs(connection, label: str) -> list[int]:
    """How many times each of this connection's prepared statements whose text holds `label` has run (labels of
    the tests' own: the pooled connection holds other tests' prepared statements too)."""
    rows = connection.exec_driver_sql("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
    return [runs for text, runs in rows if label in text]


@pytest.fixture
def sent_prepared(monkeypatch) -> list[str]:
    """The statements sent as EXECUTE of a prepared statement from now on, in order."""
    from nexus.common import database

    sent: list[str] = []

    def recorded(statement: str):
        sent.append(statement)
        return _prepared_forms(statement)

    monkeypatch.setattr(database, "_prepared_forms", recorded)
    return sent


@pytest.mark.skipif(not SERVICES, reason="server-side prepared statements are PostgreSQL's")
def test_a_marked_statement_is_prepared_once_per_connection_and_outlives_a_rollback(app):
    variant = product_with_variants(name="Linen Shirt").variants[0]
    stmt = (
        select(ProductVariant.sku.label("marked_sku"))
        .where(ProductVariant.id == bindparam("p_id"))
        .execution_options(**PREPARED)
    )
    unmarked = select(ProductVariant.size.label("unmarked_size")).where(ProductVariant.id == bindparam("p_id"))
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(stmt, {"p_id": variant.id}).scalar_one() == variant.sku
        connection.rollback()  # PREPARE is not undone by a rollback: the next run only EXECUTEs it
        assert connection.execute(stmt, {"p_id": variant.id}).scalar_one() == variant.sku
        assert connection.execute(stmt, {"p_id": 0}).scalar_one_or_none() is None
        assert connection.execute(unmarked, {"p_id": variant.id}).scalar_one() == variant.size
        assert _runs(connection, "marked_sku") == [3]
        assert _runs(connection, "unmarked_size") == []  # unmarked: sent as it is

        connection.invalidate()  # a new connection (the database restarted, say) PREPAREs it again
        connection.rollback()
        assert connection.execute(stmt, {"p_id": variant.id}).scalar_one() == variant.sku
        assert _runs(connection, "marked_sku") == [1]


@pytest.mark.skipif(not SERVICES, reason="server-side prepared statements are PostgreSQL's")
def test_a_marked_insert_of_several_rows_is_sent_as_it_is(app):
    """Its text varies with the number of rows: preparing each would fill the connection with statements."""
    variant = product_with_variants(name="Linen Shirt").variants[0]
    table = StockMovement.__table__
    stmt = insert(table).returning(table.c.id.label("marked_id")).execution_options(**PREPARED)
    row = {"variant_id": variant.id, "change": 1, "stock_after": 1, "reason": MovementReason.RESTOCK}
    with app.app_context(), db.engine.connect() as connection:
        assert len(connection.execute(stmt, [row, row, row]).all()) == 3
        assert _runs(connection, "marked_id") == []
        assert len(connection.execute(stmt, [row]).all()) == 1
        assert _runs(connection, "marked_id") == [1]
        connection.rollback()


@pytest.mark.skipif(not SERVICES, reason="server-side prepared statements are PostgreSQL's")
def test_adding_to_the_cart_and_checkout_run_every_statement_prepared(
    client, customer, customer_headers, sent_prepared
):
    variant = product_with_variants(name="Linen Shirt", stock=10).variants[0]

    def add_and_order() -> None:
        added = client.post(CART_ADD, json={"variant_id": variant.id, "quantity": 1}, headers=customer_headers)
        assert added.status_code == 200, added.json
        assert client.post(ORDERS, json=ORDER_BODY, headers=customer_headers).status_code == 201

    add_and_order()  # the customer's cart is created once, by an INSERT of its own (not prepared)
    sent_prepared.clear()
    with count_queries() as statements:
        add_and_order()
        add_and_order()
    assert len(statements) == 30 and sent_prepared == statements


@pytest.mark.skipif(not SERVICES, reason="server-side prepared statements are PostgreSQL's")
def test_a_products_page_and_the_unfiltered_list_run_prepared_but_filtered_lists_and_searches_do_not(
    client, monkeypatch, sent_prepared
):
    """A prepared statement may settle on one plan for all values: only statements whose plan cannot depend on
    them are marked."""
    from nexus.common import cache

    product = product_with_variants(name="Linen Shirt")
    monkeypatch.setattr(cache, "enabled", lambda: False)  # every request reads the database

    def run(path: str) -> tuple[list[str], list[str]]:
        sent_prepared.clear()
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        return statements, list(sent_prepared)

    for path in (
        "/api/store/products/",
        "/api/store/products/?ordering=-price",
        f"/api/store/products/{product.slug}/",
    ):
        run(path)  # a list's first request counts its products and stores the count, once
        statements, prepared_ones = run(path)
        assert len(statements) >= 2 and prepared_ones == statements, path
    for path in ("/api/store/products/?search=linen", "/api/store/products/?min_price=10&size=M"):
        statements, prepared_ones = run(path)
        page = [s for s in statements if "LIMIT" in s]
        assert len(page) == 1 and page[0] not in prepared_ones, path


# -- run(): the hot paths' statements on the driver ----------------------------------------------------------


def _ledger_row_statement():
    table = StockMovement.__table__
    return (
        insert(table)
        .returning(table.c.id, table.c.reason, table.c.created_at, table.c.change)
        .execution_options(**PREPARED)
    )


def test_run_returns_tuples_of_processed_values_and_fills_python_defaults_in_the_sessions_transaction(app):
    variant = product_with_variants(name="Linen Shirt").variants[0]
    table = StockMovement.__table__
    read = select(table.c.reason, table.c.created_at).where(table.c.id == bindparam("p_id"))
    read = read.execution_options(**PREPARED)
    with app.app_context():
        before = utcnow()
        [(movement_id, reason, created_at, change)] = run(
            _ledger_row_statement(),
            {"variant_id": variant.id, "change": 4, "stock_after": 14, "reason": MovementReason.RESTOCK},
        )
        # The enum comes back as the enum, the timestamp aware: as the ORM would read them.
        assert (reason, change) == (MovementReason.RESTOCK, 4)
        assert created_at.tzinfo is not None and before <= created_at <= utcnow()  # the column's default
        [row] = run(read, {"p_id": movement_id})
        assert row == (MovementReason.RESTOCK, created_at) and row.reason is MovementReason.RESTOCK  # by name too
        assert db.session.get(StockMovement, movement_id).stock_after == 14  # the session's own transaction
        db.session.rollback()
        assert run(read, {"p_id": movement_id}) == []


def test_run_fills_an_updates_onupdate_column_and_answers_no_rows_without_returning(app):
    variant = product_with_variants(name="Linen Shirt", stock=5).variants[0]
    table = ProductVariant.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("p_id"))
        .values(stock=table.c.stock + bindparam("p_delta"))
        .execution_options(**PREPARED)
    )
    with app.app_context():
        before = db.session.get(ProductVariant, variant.id).updated_at
        assert run(stmt, {"p_id": variant.id, "p_delta": 2}) == []
        db.session.commit()
        changed = db.session.get(ProductVariant, variant.id)
        assert changed.stock == 7 and changed.updated_at > before


def test_run_is_a_statement_like_any_other_and_on_postgresql_is_sent_prepared(app, sent_prepared):
    variant = product_with_variants(name="Linen Shirt").variants[0]
    row = {"variant_id": variant.id, "change": 1, "stock_after": 1, "reason": MovementReason.RESTOCK}
    with app.app_context(), count_queries() as statements:
        run(_ledger_row_statement(), row)
        run(_ledger_row_statement(), row)
        db.session.rollback()
    assert len(statements) == 2 and statements[0].startswith("INSERT INTO stock_movements")
    assert sent_prepared == (statements if SERVICES else [])


def test_run_of_several_rows_runs_one_row_on_the_driver_and_more_as_one_insert(app):
    variant = product_with_variants(name="Linen Shirt").variants[0]
    row = {"variant_id": variant.id, "change": 1, "stock_after": 1, "reason": MovementReason.SALE}
    with app.app_context(), count_queries() as statements:
        assert len(run_rows(_ledger_row_statement(), [row])) == 1
        assert [reason for _, reason, _, _ in run_rows(_ledger_row_statement(), [row, row, row])] == [
            MovementReason.SALE
        ] * 3
        assert run_rows(insert(StockMovement.__table__).execution_options(**PREPARED), [row, row]) == []
        db.session.rollback()
    assert len(statements) == 3


def test_a_driver_error_in_run_is_sqlalchemys_own_and_the_session_goes_on_after_a_rollback(app, customer):
    carts = Cart.__table__
    stmt = insert(carts).returning(carts.c.id).execution_options(**PREPARED)
    with app.app_context():
        [(cart_id,)] = run(stmt, {"user_id": customer.id})
        with pytest.raises(IntegrityError):  # one cart per user
            run(stmt, {"user_id": customer.id})
        db.session.rollback()
        assert run(select(carts.c.id).where(carts.c.user_id == customer.id).execution_options(**PREPARED)) == []
        [(again,)] = run(stmt, {"user_id": customer.id})
        db.session.commit()
        assert db.session.get(Cart, again).user_id == customer.id


def test_run_leaves_a_statement_whose_text_varies_to_sqlalchemy(app):
    variants = product_with_variants(name="Linen Shirt").variants
    stmt = (
        select(ProductVariant.sku)
        .where(ProductVariant.id.in_(bindparam("p_ids", expanding=True)))
        .order_by(ProductVariant.id)
        .execution_options(**PREPARED)
    )
    with app.app_context():
        assert [row.sku for row in run(stmt, {"p_ids": [v.id for v in variants[:2]]})] == [v.sku for v in variants[:2]]
        assert [row.sku for row in run(stmt, {"p_ids": [variants[0].id]})] == [variants[0].sku]


@pytest.mark.skipif(not SERVICES, reason="drops a real PostgreSQL connection")
def test_a_connection_dropped_under_run_is_invalidated_and_the_next_transaction_gets_a_new_one(app):
    variant = product_with_variants(name="Linen Shirt").variants[0]
    stmt = select(ProductVariant.sku).where(ProductVariant.id == bindparam("p_id")).execution_options(**PREPARED)
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(db.engine.url, poolclass=NullPool)
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        admin.dispose()
        with pytest.raises(OperationalError) as raised:
            run(stmt, {"p_id": variant.id})
        assert raised.value.connection_invalidated
        db.session.rollback()
        assert run(stmt, {"p_id": variant.id}) == [(variant.sku,)]
        assert db.session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_run_together_runs_in_order_in_one_round_trip_on_postgresql_and_answers_the_last_rows(app, customer):
    carts, items = Cart.__table__, StockMovement.__table__
    variant = product_with_variants(name="Linen Shirt").variants[0]
    make_cart = insert(carts).returning(carts.c.id).execution_options(**PREPARED)
    read_cart = select(carts.c.id).where(carts.c.user_id == bindparam("p_user")).execution_options(**PREPARED)
    with app.app_context(), count_round_trips() as trips:
        rows = run_together((make_cart, {"user_id": customer.id}), (read_cart, {"p_user": customer.id}))
        assert len(rows) == 1 and rows[0].id is not None  # the second saw the first's row
        # The first statement's error is the call's, and the rollback leaves nothing of the batch (nor the first
        # call's cart, in the same transaction).
        ledger = insert(items).execution_options(**PREPARED)
        row = {"variant_id": variant.id, "change": 1, "stock_after": 1, "reason": MovementReason.RESTOCK}
        with pytest.raises(IntegrityError):
            run_together((make_cart, {"user_id": customer.id}), (ledger, row))
        db.session.rollback()
    assert [len(trip) for trip in trips] == ([2, 2] if SERVICES else [1, 1, 1])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(items)) == 0
        assert db.session.scalar(select(func.count()).select_from(carts)) == 0


@pytest.mark.skipif(not SERVICES, reason="one round trip per statement elsewhere: nothing to count")
def test_adding_to_the_cart_and_checkout_take_nine_round_trips_for_fifteen_statements_on_postgresql(
    client, customer, customer_headers
):
    variant = product_with_variants(name="Linen Shirt", stock=10).variants[0]

    def add_and_order() -> None:
        added = client.post(CART_ADD, json={"variant_id": variant.id, "quantity": 1}, headers=customer_headers)
        assert added.status_code == 200, added.json
        assert client.post(ORDERS, json=ORDER_BODY, headers=customer_headers).status_code == 201

    add_and_order()  # the customer's cart is created once
    with count_round_trips() as trips:
        add_and_order()
    # Together: the cart's lock, the merge and its lines; at checkout the cart's lock and the removal of its lines,
    # the order and its first history row, the stock ledger's row and the item, the order's totals and its e-mail's
    # outbox row.
    assert (sum(len(trip) for trip in trips), len(trips)) == (15, 9)
    assert [[_written(statement) for statement in trip] for trip in trips] == [
        ["SELECT"],  # the user
        ["SELECT"],  # the variant
        ["UPDATE carts", "INSERT cart_items", "SELECT"],
        ["SELECT"],  # the user
        ["UPDATE carts", "DELETE cart_items"],
        ["INSERT orders", "INSERT order_status_history"],
        ["UPDATE product_variants"],
        ["INSERT stock_movements", "INSERT order_items"],
        ["UPDATE orders", "INSERT outbox_messages"],
    ]


def _written(statement: str) -> str:
    """A statement as "VERB table" when it writes, its verb otherwise."""
    found = re.match(r"(UPDATE|INSERT INTO|DELETE FROM) (\w+)", statement)
    return f"{found[1].split()[0]} {found[2]}" if found else statement.split()[0]
