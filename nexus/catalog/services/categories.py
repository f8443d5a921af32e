"""Categories: a tree of any depth with unique slugs, in which no category becomes its own ancestor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, exists, func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

from nexus.catalog.exceptions import CategoryInUse, CategoryNotFound
from nexus.catalog.models import Category, Product
from nexus.catalog.services.helpers import commit, count, ensure_slug_free, like_pattern, slug_from
from nexus.common import media
from nexus.common.errors import ValidationFailed
from nexus.common.pagination import Page, paginate
from nexus.extensions import db

# pg_advisory_xact_lock key serialising moves in the tree ("categ" in ASCII).
_TREE_LOCK = 0x6361746567


def subtree_ids(root_id: int | BindParameter) -> Select:
    """Ids of a category and of every category below it, at any depth: one recursive CTE."""
    tree = select(Category.id).where(Category.id == root_id).cte("category_subtree", recursive=True)
    # UNION (not UNION ALL) also stops on a loop, should one ever exist.
    tree = tree.union(select(Category.id).where(Category.parent_id == tree.c.id))
    return select(tree.c.id)


def ancestor_ids(category_id: int) -> set[int]:
    """Ids of a category and of every category above it."""
    up = select(Category.id, Category.parent_id).where(Category.id == category_id).cte("ancestors", recursive=True)
    up = up.union(select(Category.id, Category.parent_id).join(up, Category.id == up.c.parent_id))
    return set(db.session.scalars(select(up.c.id)))


def _visible(is_staff: bool) -> list:
    return [] if is_staff else [Category.is_active.is_(True)]


def _with_relations(stmt: Select, *, is_staff: bool) -> Select:
    children = Category.children if is_staff else Category.children.and_(Category.is_active.is_(True))
    # populate_existing: a category already in the session gets the children this viewer may see, too.
    return stmt.options(joinedload(Category.parent), selectinload(children)).execution_options(populate_existing=True)


def get_category_or_404(*, slug: str, is_staff: bool = True) -> Category:
    """The category with its parent and children; inactive ones are hidden from non-staff."""
    stmt = _with_relations(select(Category).where(Category.slug == slug, *_visible(is_staff)), is_staff=is_staff)
    category = db.session.scalars(stmt).unique().one_or_none()
    if category is None:
        raise CategoryNotFound()
    return category


def category_id_by_slug(
    slug: str, *, field: str, location: str = "json", is_staff: bool = True, reader: Connection | None = None
) -> int:
    """The id of the category with this slug; an unknown slug is a 400 on `field`. `reader`: the connection to read
    it with (a read outside the session's transaction), else the session."""
    stmt = select(Category.id).where(Category.slug == slug, *_visible(is_staff))
    category_id = (reader or db.session).scalar(stmt)
    if category_id is None:
        raise ValidationFailed(errors={location: {field: [f"Unknown category {slug!r}."]}})
    return category_id


def list_categories(
    *, parent: str | None = None, search: str | None = None, is_staff: bool, page: int, page_size: int
) -> Page:
    """Categories by name; `parent=""` lists the top level, `parent=<slug>` that category's children."""
    criteria = _visible(is_staff)
    if parent == "":
        criteria.append(Category.parent_id.is_(None))
    elif parent is not None:
        parent_id = category_id_by_slug(parent, field="parent", location="query", is_staff=is_staff)
        criteria.append(Category.parent_id == parent_id)
    if search:
        criteria.append(Category.name.ilike(like_pattern(search), escape="\\"))
    stmt = _with_relations(select(Category).where(*criteria), is_staff=is_staff).order_by(Category.name, Category.id)
    return paginate(stmt, page=page, page_size=page_size, count=count(Category.id, *criteria))


def _lock_tree() -> None:
    # Two concurrent moves could each pass the cycle check and together make a loop: moves take turns.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(_TREE_LOCK)))


def _commit() -> None:
    # Products show their category: both namespaces change. A foreign key refusing the write means a
    # product or subcategory arrived in the meantime.
    commit("categories", "products", other=lambda _exc: CategoryInUse())


def _reload(category_id: int) -> Category:
    stmt = _with_relations(select(Category).where(Category.id == category_id), is_staff=True)
    return db.session.scalars(stmt).unique().one()


def create_category(
    *, name: str, slug: str | None = None, description: str = "", parent: str | None = None, is_active: bool = True
) -> Category:
    """A new category; its slug is made from the name when not given (a taken slug is a 400)."""
    slug = slug or slug_from(name, max_length=140)
    ensure_slug_free(Category, slug)
    parent_id = category_id_by_slug(parent, field="parent") if parent else None
    category = Category(name=name, slug=slug, description=description, parent_id=parent_id, is_active=is_active)
    db.session.add(category)
    _commit()
    return _reload(category.id)


def update_category(*, slug: str, changes: Mapping[str, Any]) -> Category:
    """Change a category's fields; moving it under itself or one of its descendants is a 400."""
    category = get_category_or_404(slug=slug)
    values = {field: changes[field] for field in ("name", "slug", "description", "is_active") if field in changes}
    if values.get("slug", category.slug) != category.slug:
        ensure_slug_free(Category, values["slug"], own_id=category.id)
    if changes.get("parent") is not None:
        _lock_tree()
        parent_id = category_id_by_slug(changes["parent"], field="parent")
        if category.id in ancestor_ids(parent_id):
            raise ValidationFailed(
                errors={"parent": ["A category cannot be placed under itself or one of its subcategories."]}
            )
        values["parent_id"] = parent_id
    elif "parent" in changes:
        values["parent_id"] = None
    # Every check (and its queries) ran first: nothing is flushed half-changed.
    for field, value in values.items():
        setattr(category, field, value)
    _commit()
    return _reload(category.id)


def delete_category(*, slug: str) -> None:
    """Delete an empty category: one that still has products or subcategories is a 409."""
    category = get_category_or_404(slug=slug)
    if db.session.scalar(select(exists().where(Product.category_id == category.id))):
        raise CategoryInUse("The category still has products: move or delete them first.")
    if db.session.scalar(select(exists().where(Category.parent_id == category.id))):
        raise CategoryInUse("The category still has subcategories: move or delete them first.")
    image = category.image
    db.session.delete(category)
    _commit()
    media.delete_media(image)


def set_category_image(*, slug: str, upload: FileStorage) -> Category:
    """Replace a category's image with an upload that decodes as an image (the old file is removed)."""
    category = get_category_or_404(slug=slug)
    stored = media.save_image(media.check_image(upload), folder="categories")
    old, category.image = category.image, stored
    try:
        _commit()
    except Exception:
        media.delete_media(stored)
        raise
    media.delete_media(old)
    return _reload(category.id)
