"""Answers the catalog needs from higher domains, which register them at start-up (never an upward import)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

_KEY = "nexus_catalog_hooks"


def register(
    app: Flask,
    *,
    product_was_ordered: Callable[[int], bool] | None = None,
    verified_purchase: Callable[[int, int], bool] | None = None,
) -> None:
    hooks = app.extensions.setdefault(_KEY, {})
    if product_was_ordered:
        hooks["product_was_ordered"] = product_was_ordered
    if verified_purchase:
        hooks["verified_purchase"] = verified_purchase


def product_was_ordered(product_id: int) -> bool:
    """True when any order ever contained the product (it is then discontinued, not deleted)."""
    hook = current_app.extensions.get(_KEY, {}).get("product_was_ordered")
    return bool(hook and hook(product_id))


def verified_purchase(user_id: int, product_id: int) -> bool:
    """True when the user has a delivered order containing the product."""
    hook = current_app.extensions.get(_KEY, {}).get("verified_purchase")
    return bool(hook and hook(user_id, product_id))
