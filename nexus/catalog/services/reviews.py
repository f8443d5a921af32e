"""Reviews: one per customer per product; the product's rating and review count stay exact."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from nexus.catalog import hooks
from nexus.catalog.exceptions import DuplicateReview, ReviewNotFound
from nexus.catalog.models import Product, Review
from nexus.catalog.services.helpers import commit, count
from nexus.catalog.services.lookup import get_product_by_pk_or_404
from nexus.common import outbox
from nexus.common.pagination import Page, paginate
from nexus.extensions import db


def list_reviews(*, product_pk: str, is_staff: bool, page: int, page_size: int) -> Page:
    """The product's reviews, newest first; reviews of a product the caller cannot see are a 404."""
    product = get_product_by_pk_or_404(product_pk=product_pk, is_staff=is_staff)
    criterion = Review.product_id == product.id
    stmt = select(Review).where(criterion).options(joinedload(Review.user))
    stmt = stmt.order_by(Review.created_at.desc(), Review.id.desc())
    return paginate(stmt, page=page, page_size=page_size, count=count(Review.id, criterion))


def refresh_review_summary(product_id: int) -> None:
    """Recompute the product's review count and average rating (one decimal, half up) from its reviews.

    Exact on every database: the sum and count are integers and the division is done in Decimal.
    """
    reviews, total = db.session.execute(
        select(func.count(Review.id), func.coalesce(func.sum(Review.rating), 0)).where(Review.product_id == product_id)
    ).one()
    average = (Decimal(total) / reviews).quantize(Decimal("0.1"), ROUND_HALF_UP) if reviews else None
    db.session.execute(
        update(Product).where(Product.id == product_id).values(review_count=reviews, average_rating=average),
        execution_options={"synchronize_session": False},
    )


def _reload(review_id: int) -> Review:
    stmt = (
        select(Review)
        .where(Review.id == review_id)
        .options(joinedload(Review.user), joinedload(Review.product))
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(stmt).one()


def _locked_product(product_pk: str, *, is_staff: bool) -> Product:
    # The product row is locked first: concurrent reviews of one product recompute its summary in turn,
    # each seeing the others' committed rows.
    return get_product_by_pk_or_404(product_pk=product_pk, is_staff=is_staff, for_update=True)


def create_review(
    *, product_pk: str, user_id: int, is_staff: bool, rating: int, comment: str, title: str = ""
) -> Review:
    """Review a product the caller can see; a second review by the same customer is a 409."""
    product = _locked_product(product_pk, is_staff=is_staff)
    mine = select(Review.id).where(Review.product_id == product.id, Review.user_id == user_id)
    if db.session.scalar(mine) is not None:
        raise DuplicateReview()
    review = Review(
        product_id=product.id,
        user_id=user_id,
        rating=rating,
        title=title,
        comment=comment,
        verified_purchase=hooks.verified_purchase(user_id, product.id),
    )
    db.session.add(review)
    try:
        db.session.flush()
    except IntegrityError as exc:
        outbox.rollback()
        raise DuplicateReview() from exc
    refresh_review_summary(product.id)
    commit("products", "reviews", other=lambda _exc: DuplicateReview())
    return _reload(review.id)


def _own_review(*, product_pk: str, review_id: int, user_id: int, is_staff: bool) -> Review:
    """The review, for its author or staff; anyone else gets the same 404 as for a missing review."""
    product = _locked_product(product_pk, is_staff=is_staff)
    review = db.session.scalar(select(Review).where(Review.id == review_id, Review.product_id == product.id))
    if review is None or (review.user_id != user_id and not is_staff):
        raise ReviewNotFound()
    return review


def update_review(
    *, product_pk: str, review_id: int, user_id: int, is_staff: bool, changes: Mapping[str, Any]
) -> Review:
    """Edit a review (its author or staff); the product's rating follows."""
    review = _own_review(product_pk=product_pk, review_id=review_id, user_id=user_id, is_staff=is_staff)
    for field in ("rating", "title", "comment"):
        if field in changes:
            setattr(review, field, changes[field])
    db.session.flush()
    refresh_review_summary(review.product_id)
    commit("products", "reviews")
    return _reload(review.id)


def delete_review(*, product_pk: str, review_id: int, user_id: int, is_staff: bool) -> None:
    """Delete a review (its author or staff); the product's rating follows."""
    review = _own_review(product_pk=product_pk, review_id=review_id, user_id=user_id, is_staff=is_staff)
    product_id = review.product_id
    db.session.delete(review)
    db.session.flush()
    refresh_review_summary(product_id)
    commit("products", "reviews")
