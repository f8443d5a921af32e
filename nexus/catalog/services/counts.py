"""Exact list counts, cached in the database for one catalog generation.

`catalog_state.generation` is raised by every transaction that may change what a product list holds or counts
(product, variant, category, review and image writes, a sale that sells a size out, a cancellation that brings
one back, the demo seed), in that transaction and as its last statement before COMMIT: the hot row is then
locked only for the instant of the commit, after every other lock the transaction takes (no deadlocks).

A list reads the generation first, before anything its count depends on (the category subtree, the products),
then looks up `list_counts(key, generation)`. On a miss it counts and stores the count under the generation it
read. That entry is exact: any write committed after the read raised the generation, so the entry is never
used again; a write committed before the read is in the count.

Writers ask for the raise with `bump_on_commit()`; as a safety net, any flush of a new, changed or deleted
product, variant, category or review asks for it too (the ORM writes of tests and admin tools included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, delete, event, func, literal, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from nexus.catalog.models import CatalogState, Category, ListCount, Product, ProductVariant, Review
from nexus.common.cache import digest
from nexus.common.database import PREPARED, read_connection, run
from nexus.common.models import upsert_insert
from nexus.extensions import db

log = logging.getLogger(__name__)

_BUMP = "nexus_catalog_bump"
_WATCHED = (Product, ProductVariant, Category, Review)
# Beyond this many cached counts a purge empties the table (a cache: dropping entries is always safe).
MAX_ENTRIES = 100_000


def bump_on_commit() -> None:
    """Raise the catalog's generation when the current transaction commits (and only then)."""
    db.session.info[_BUMP] = True


@event.listens_for(Session, "before_flush")
def _watch_flush(session: Session, _context, _instances) -> None:
    if session.info.get(_BUMP):
        return
    for instance in chain(session.new, session.deleted, session.dirty):
        if isinstance(instance, _WATCHED) and (instance not in session.dirty or session.is_modified(instance)):
            session.info[_BUMP] = True
            return


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the bump belongs to the real commit
    session.flush()  # the flush commit() would make next may ask for the bump: make it now
    if session.info.pop(_BUMP, False):
        session.execute(
            update(CatalogState).where(CatalogState.id == 1).values(generation=CatalogState.generation + 1),
            execution_options={"synchronize_session": False},
        )


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the real transaction ended (committed or rolled back)
        session.info.pop(_BUMP, None)


def key_of(*parts: Any) -> str:
    return digest(parts)


@dataclass
class CountLookup:
    """The cached count of one list at the generation read when it was made (`cached` None on a miss)."""

    key: str
    generation: int | None
    cached: int | None

    def resolve(self, count: Callable[[], int]) -> int:
        """The cached count, or `count()` stored for this generation (in a short transaction of its own)."""
        if self.cached is not None:
            return self.cached
        total = count()
        if self.generation is not None:
            _store(self.key, self.generation, total)
        return total


@cache
def _lookup_statement():
    """The generation, and the count cached under it for `p_key` (built once: every list runs it)."""
    return (
        select(CatalogState.generation, ListCount.count)
        .outerjoin(ListCount, (ListCount.key == bindparam("p_key")) & (ListCount.generation == CatalogState.generation))
        .where(CatalogState.id == 1)
        .execution_options(**PREPARED)
    )


def lookup(*key_parts: Any) -> CountLookup:
    """Read the generation and the count cached under it: call before reading anything the count depends on."""
    key = key_of(*key_parts)
    rows = run(_lookup_statement(), {"p_key": key}, connection=read_connection())
    if not rows:
        _restore_state()
        rows = run(_lookup_statement(), {"p_key": key}, connection=read_connection())
    if not rows:
        return CountLookup(key, None, None)  # counted, not cached
    return CountLookup(key, rows[0].generation, rows[0].count)


def _commit_or_forget(doing: str, stmt) -> None:
    """Run one statement of the count cache and commit it; a failure only costs the cache entry."""
    try:
        db.session.execute(stmt)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("list count cache: %s failed (%s)", doing, exc)


def _store(key: str, generation: int, total: int) -> None:
    stmt = upsert_insert(ListCount).values(key=key, generation=generation, count=total)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ListCount.key],
        set_={"generation": stmt.excluded.generation, "count": stmt.excluded.count},
        where=ListCount.generation <= stmt.excluded.generation,
    )
    _commit_or_forget("storing a count", stmt)


def _restore_state() -> None:
    """Put back a missing catalog_state row, above every generation cached (never the case but after a purge of
    every table, as tests do)."""
    # WHERE true: SQLite needs it to tell the SELECT from the ON CONFLICT clause.
    above = select(literal(1), func.coalesce(func.max(ListCount.generation), 0) + 1).where(true())
    stmt = upsert_insert(CatalogState).from_select(["id", "generation"], above).on_conflict_do_nothing()
    _commit_or_forget("restoring the catalog state", stmt)


def purge(max_entries: int = MAX_ENTRIES) -> int:
    """Delete the counts of past generations (every count once there are more than `max_entries`)."""
    current = select(CatalogState.generation).where(CatalogState.id == 1).scalar_subquery()
    deleted = db.session.execute(delete(ListCount).where(ListCount.generation < current)).rowcount
    if db.session.scalar(select(func.count()).select_from(ListCount)) > max_entries:
        deleted += db.session.execute(delete(ListCount)).rowcount
    db.session.commit()
    return deleted
