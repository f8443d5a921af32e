"""The paginated envelope shared by every list."""

import pytest
from sqlalchemy import select

from nexus.auth.models import User
from nexus.common.errors import NotFound
from nexus.common.pagination import PaginationArgsSchema, envelope, paginate
from tests.factories import UserFactory


@pytest.fixture
def users(app):
    return UserFactory.create_batch(5)


def test_page_size_defaults_and_is_capped(app):
    schema = PaginationArgsSchema()
    assert schema.load({}) == {"page": 1, "page_size": 12}
    assert schema.load({"page_size": "1000000"})["page_size"] == 100
    with pytest.raises(Exception, match="Must be greater than or equal to 1"):
        schema.load({"page": "0"})


def test_envelope_counts_and_links_keep_other_parameters(app, users):
    stmt = select(User).order_by(User.id)
    with app.test_request_context("/api/store/things/?status=active&page=2&page_size=2"):
        body = envelope(paginate(stmt, page=2, page_size=2))
    assert body["count"] == 5
    assert [user.id for user in body["results"]] == [users[2].id, users[3].id]
    assert body["next"] == "http://localhost/api/store/things/?status=active&page=3&page_size=2"
    assert body["previous"] == "http://localhost/api/store/things/?status=active&page=1&page_size=2"


def test_last_page_has_no_next_and_first_no_previous(app, users):
    stmt = select(User).order_by(User.id)
    with app.test_request_context("/x/?page=3&page_size=2"):
        last = envelope(paginate(stmt, page=3, page_size=2))
    with app.test_request_context("/x/"):
        first = envelope(paginate(stmt, page=1, page_size=10))
    assert last["next"] is None and len(last["results"]) == 1
    assert first["previous"] is None and first["next"] is None and first["count"] == 5


def test_page_past_the_end_is_404_but_an_empty_first_page_is_not(app):
    stmt = select(User).order_by(User.id)
    with app.test_request_context("/x/"):
        assert envelope(paginate(stmt, page=1, page_size=10))["results"] == []
        with pytest.raises(NotFound):
            paginate(stmt, page=2, page_size=10)
