"""Property-based fuzzing of every operation of /openapi.json with schemathesis, in-process over WSGI.

Each operation gets a fixed, derandomized set of generated requests, valid and invalid (FUZZ_EXAMPLES each, 15 by
default; `make fuzz` runs many more), sent as a customer, or as an admin where the operation is admin-only (either,
drawn, where signing in is optional). Every answer must be no 5xx, of a status code the operation documents
explicitly, of the documented content type, and conform to the documented schema.
"""

from __future__ import annotations

import os
import traceback
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi import from_dict

from tests.conftest import bearer

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ_ONLY = os.environ.get("FUZZ_ONLY", "")  # e.g. "images": only the operations whose label holds it
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_world(app, customer, admin):
    """A small shop for generated requests to land on: a product with variants, a review, a cart and an order."""
    from tests.factories import (
        CartItemFactory,
        OrderFactory,
        OrderItemFactory,
        PaymentFactory,
        ProductImageFactory,
        ReviewFactory,
        WishlistItemFactory,
        product_with_variants,
    )

    product = product_with_variants(slug="fuzz-shirt", category__slug="fuzz-tops")
    image = ProductImageFactory(product=product)
    review = ReviewFactory(product=product, user=customer)
    item = CartItemFactory(cart__user_id=customer.id, variant=product.variants[0])
    entry = WishlistItemFactory(user_id=customer.id, product=product)
    order = OrderFactory(user_id=customer.id)
    OrderItemFactory(order=order, variant=product.variants[1])
    payment = PaymentFactory(order=order)
    path_parameters = {
        "slug": product.slug,
        "product_pk": product.slug,
        "variant_id": product.variants[0].id,
        "image_id": image.id,
        "review_id": review.id,
        "item_id": item.id,
        "entry_id": entry.id,
        "order_id": order.id,
        "order_pk": order.id,
        "payment_id": payment.id,
    }
    return {"customer": customer.id, "admin": admin.id, "path_parameters": path_parameters, "category": "fuzz-tops"}


def _operations(app):
    spec = app.test_client().get("/openapi.json").json
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue  # path-level "parameters"
            # Stricter than the document: every status an operation answers must be listed, not just "default".
            operation.get("responses", {}).pop("default", None)
    schema = from_dict(spec)
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    # Reads and creations first: an update may rename the shared product and a delete remove it.
    order = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return sorted(operations, key=lambda operation: order.index(operation.method.upper()))


def _admin_only(operation) -> bool:
    return "403" in operation.definition.raw.get("responses", {})


def _headers_for(operation, users: dict, *, as_admin: bool) -> dict[str, str]:
    """A customer's token, or an admin's for staff-only operations (and, when drawn, for optional-auth ones)."""
    from nexus.auth.models import User
    from nexus.extensions import db

    security = operation.definition.raw.get("security")
    if not security:
        return {}
    optional = {} in security  # the catalog's reads: staff see more (drafts, ?status=)
    user_id = users["admin"] if _admin_only(operation) or (optional and as_admin) else users["customer"]
    headers = bearer(db.session.get(User, user_id))  # a fresh token: logout or a password change revokes older ones
    db.session.remove()
    return headers


def _strategy(operation, world: dict):
    """Valid and invalid requests, on made-up ids and, for operations with path parameters, on real objects too."""
    strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        known = dict(world["path_parameters"])
        if operation.path.startswith("/api/store/categories/"):
            known["slug"] = world["category"]
        real = {name: known[name] for name in names}
        strategies += [operation.as_strategy(mode, path_parameters=real) for mode in GenerationMode]
    return st.one_of(strategies)


def test_every_operation_survives_generated_requests(app, fuzz_world):
    from nexus.extensions import limiter

    operations = _operations(app)
    assert len(operations) > 40
    failures: list[str] = []
    seen: Counter = Counter()
    for operation in operations:
        if FUZZ_ONLY not in operation.label:
            continue

        @settings(
            max_examples=FUZZ_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, fuzz_world), as_admin=st.booleans())
        def fuzz(case, as_admin):
            limiter.reset()  # the login limit would otherwise answer most generated logins with 429
            headers = _headers_for(case.operation, fuzz_world, as_admin=as_admin)
            response = case.call(app=app, headers=headers)
            seen[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collected, so one run reports every failing operation at once
            failures.append(f"{operation.label}: {exc}\n{''.join(traceback.format_exception(exc)[-6:])}")
    assert not failures, "\n\n".join(failures)
    # Not only refusals: the generated requests reached the success path of most operations.
    succeeded = {label for label, status in seen if status < 300}
    assert len(succeeded) >= len(operations) // 2, sorted(seen.items())
