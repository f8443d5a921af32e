"""`flask create-superuser`: options for scripts, prompts for people, clear refusals."""

from sqlalchemy import select

from nexus.auth.models import User
from nexus.extensions import db
from tests.auth.conftest import login


def _user(email: str) -> User | None:
    db.session.remove()
    return db.session.scalar(select(User).where(User.email == email))


def test_create_superuser_from_options(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--email", "Boss@Example.com", "--password", "Granite-Harbor-71"]
    )

    assert result.exit_code == 0, result.output
    assert "boss@example.com" in result.output
    user = _user("boss@example.com")
    assert (user.is_staff, user.is_verified, user.is_active) == (True, True, True)
    assert login(client, "boss@example.com", "Granite-Harbor-71").status_code == 200


def test_create_superuser_prompts_for_what_is_missing(app):
    result = app.test_cli_runner().invoke(
        args=["create-superuser"], input="boss@example.com\nGranite-Harbor-71\nGranite-Harbor-71\n"
    )

    assert result.exit_code == 0, result.output
    assert "Email:" in result.output and "Repeat for confirmation:" in result.output
    assert "Granite-Harbor-71" not in result.output
    assert _user("boss@example.com").is_staff is True


def test_create_superuser_refuses_a_duplicate_email(app, customer):
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--email", "CUSTOMER@example.com", "--password", "Granite-Harbor-71"]
    )

    assert result.exit_code != 0
    assert "already exists" in result.output
    assert _user("customer@example.com").is_staff is False


def test_create_superuser_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--email", "boss@example.com", "--password", "1234"]
    )

    assert result.exit_code != 0
    assert "too short" in result.output and "entirely numeric" in result.output
    assert _user("boss@example.com") is None


def test_create_superuser_refuses_an_invalid_email(app):
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--email", "boss", "--password", "Granite-Harbor-71"]
    )

    assert result.exit_code != 0
    assert "valid email" in result.output
    assert _user("boss") is None
