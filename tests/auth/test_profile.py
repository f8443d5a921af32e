"""GET, PUT and PATCH of the signed-in user, at /api/auth/user/ and /api/store/users/me/."""

import pytest

from nexus.auth.models import User
from nexus.extensions import db
from tests.helpers import assert_error, count_queries

PATHS = ["/api/auth/user/", "/api/store/users/me/"]


@pytest.fixture
def profiled(customer):
    """`customer` with every editable field filled in."""
    customer.first_name, customer.last_name, customer.phone_number = "Cora", "Lind", "+46 8 123 456"
    db.session.commit()
    return customer


@pytest.mark.parametrize("path", PATHS)
def test_get_returns_the_user_without_secrets(client, customer, customer_headers, path):
    response = client.get(path, headers=customer_headers)

    assert response.status_code == 200
    assert response.json == {
        "id": customer.id,
        "email": "customer@example.com",
        "first_name": "Cora",
        "last_name": customer.last_name,
        "phone_number": "",
        "is_verified": True,
        "is_staff": False,
        "date_joined": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
    }
    assert "password" not in response.get_data(as_text=True)


def test_both_paths_answer_the_same(client, customer, customer_headers):
    first, second = (client.get(path, headers=customer_headers) for path in PATHS)

    assert first.status_code == second.status_code == 200
    assert first.json["email"] == customer.email
    assert first.json == second.json


def test_get_runs_one_statement(client, customer_headers):
    with count_queries() as queries:
        assert client.get(PATHS[0], headers=customer_headers).status_code == 200

    assert len(queries) == 1


@pytest.mark.parametrize("path", PATHS)
def test_patch_changes_only_the_fields_given(client, profiled, customer_headers, path):
    response = client.patch(path, headers=customer_headers, json={"first_name": "Corinna"})

    assert response.status_code == 200
    assert response.json["first_name"] == "Corinna"
    user = db.session.get(User, profiled.id)
    assert (user.first_name, user.last_name, user.phone_number) == ("Corinna", "Lind", "+46 8 123 456")


def test_an_empty_patch_changes_nothing(client, profiled, customer_headers):
    response = client.patch(PATHS[0], headers=customer_headers, json={})

    assert response.status_code == 200
    assert response.json["last_name"] == "Lind"


@pytest.mark.parametrize("path", PATHS)
def test_put_replaces_the_editable_set(client, profiled, customer_headers, path):
    before = profiled.updated_at

    response = client.put(
        path, headers=customer_headers, json={"first_name": "C.", "last_name": "Lindqvist", "phone_number": "0701234"}
    )

    assert response.status_code == 200
    user = db.session.get(User, profiled.id)
    assert (user.first_name, user.last_name, user.phone_number) == ("C.", "Lindqvist", "0701234")
    assert user.updated_at > before


def test_put_resets_fields_left_out(client, profiled, customer_headers):
    response = client.put(PATHS[0], headers=customer_headers, json={"first_name": "Cora"})

    assert response.status_code == 200
    user = db.session.get(User, profiled.id)
    assert (user.first_name, user.last_name, user.phone_number) == ("Cora", "", "")


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    "field", [{"is_staff": True}, {"is_verified": False}, {"email": "boss@example.com"}, {"password_hash": "x"}]
)
def test_read_only_fields_are_refused_and_nothing_changes(client, profiled, customer_headers, method, field):
    response = getattr(client, method)(PATHS[1], headers=customer_headers, json={"first_name": "Mallory", **field})

    assert_error(response, 400, next(iter(field)))
    user = db.session.get(User, profiled.id)
    assert (user.first_name, user.email, user.is_staff, user.is_verified) == (
        "Cora",
        "customer@example.com",
        False,
        True,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone_number": "not a phone"}, "phone_number"),
        ({"phone_number": "+" + "1" * 40}, "phone_number"),
        ({"last_name": "x" * 151}, "last_name"),
        ({"first_name": None}, "first_name"),
        ({"first_name": 7}, "first_name"),
    ],
)
def test_invalid_values_are_400(client, profiled, customer_headers, body, field):
    assert_error(client.patch(PATHS[0], headers=customer_headers, json=body), 400, field)
    assert db.session.get(User, profiled.id).first_name == "Cora"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_the_profile_needs_a_token_before_the_body_is_read(client, path, method):
    assert_error(getattr(client, method)(path, json={"is_staff": True}), 401)


def test_a_path_without_the_slash_still_reaches_the_endpoint(client, customer_headers):
    response = client.get("/api/store/users/me", headers=customer_headers, follow_redirects=True)

    assert response.status_code == 200
    assert response.json["email"] == "customer@example.com"
