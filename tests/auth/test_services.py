"""Rules of the auth services: rehashing, races between concurrent requests, revocation housekeeping."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from nexus.auth import passwords, services, tokens
from nexus.auth.exceptions import InvalidCredentials, InvalidToken
from nexus.auth.models import RevokedToken, User
from nexus.celery_app import BEAT_SCHEDULE
from nexus.common.errors import ValidationFailed
from nexus.common.models import utcnow
from nexus.extensions import db
from tests.auth.conftest import STRONG_PASSWORD
from tests.conftest import SERVICES
from tests.factories import PASSWORD
from tests.helpers import run_concurrently

needs_postgres = pytest.mark.skipif(not SERVICES, reason="true concurrency needs PostgreSQL")


def _fresh(user_id: int) -> User:
    db.session.remove()
    return db.session.get(User, user_id)


def _race(app, work, *, threads: int = 2) -> list[str]:
    """Run `work()` in `threads` threads at once: "ok" for each that succeeded, "refused" for each refused."""
    outcomes = []
    for result in run_concurrently(app, threads, lambda _index: work()):
        if isinstance(result, (InvalidToken, ValidationFailed)):
            outcomes.append("refused")
        elif isinstance(result, Exception):
            raise result
        else:
            outcomes.append("ok")
    return sorted(outcomes)


# -- sign-in --------------------------------------------------------------------------------------------


def test_sign_in_rehashes_a_hash_made_with_older_parameters(app, customer, monkeypatch):
    old_hash = customer.password_hash
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", app.config["ARGON2_TIME_COST"] + 1)

    services.authenticate(email=customer.email, password=PASSWORD)

    new_hash = _fresh(customer.id).password_hash
    assert new_hash != old_hash
    assert not passwords.needs_rehash(new_hash)
    assert passwords.check_password(new_hash, PASSWORD)


def test_sign_in_records_last_login_but_is_not_a_profile_change(customer):
    services.authenticate(email="CUSTOMER@example.com", password=PASSWORD)

    user = _fresh(customer.id)
    assert user.last_login is not None
    assert user.updated_at == customer.updated_at


def test_a_rehash_never_overwrites_a_password_changed_meanwhile(app, customer, monkeypatch):
    changed = passwords.hash_password("Changed-Meanwhile-9")
    real_check = passwords.check_password

    def check_while_someone_changes_the_password(password_hash, password):
        with db.engine.begin() as other:
            other.execute(update(User).where(User.id == customer.id).values(password_hash=changed))
        return real_check(password_hash, password)

    monkeypatch.setattr(passwords, "check_password", check_while_someone_changes_the_password)
    monkeypatch.setattr(passwords, "needs_rehash", lambda _hash: True)

    services.authenticate(email=customer.email, password=PASSWORD)

    assert _fresh(customer.id).password_hash == changed


def test_unknown_and_inactive_accounts_are_refused_alike(customer):
    with pytest.raises(InvalidCredentials) as unknown:
        services.authenticate(email="nobody@example.com", password=PASSWORD)
    db.session.execute(update(User).values(is_active=False))
    db.session.commit()
    with pytest.raises(InvalidCredentials) as inactive:
        services.authenticate(email=customer.email, password=PASSWORD)

    assert str(unknown.value) == str(inactive.value)


# -- registration ---------------------------------------------------------------------------------------


def test_a_registration_that_loses_the_race_for_an_email_is_a_400(customer, monkeypatch):
    # Both requests checked before either inserted: the unique index decides, and the loser gets a field error.
    monkeypatch.setattr(services, "get_user_by_email", lambda **_: None)

    with pytest.raises(ValidationFailed) as refused:
        services.register_user(email="customer@example.com", password=STRONG_PASSWORD, password2=STRONG_PASSWORD)

    assert "email" in refused.value.errors
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_update_user_refuses_fields_that_are_not_editable(customer):
    with pytest.raises(ValidationFailed):
        services.update_user(user_id=customer.id, is_staff=True)

    assert _fresh(customer.id).is_staff is False


# -- tokens ---------------------------------------------------------------------------------------------


def test_a_refresh_token_is_exchanged_once(customer):
    pair = tokens.issue_tokens(customer)

    fresh = services.refresh_tokens(refresh=pair["refresh"])
    assert set(fresh) == {"access", "refresh"} and fresh["refresh"] != pair["refresh"]
    with pytest.raises(InvalidToken):
        services.refresh_tokens(refresh=pair["refresh"])


@needs_postgres
def test_concurrent_uses_of_one_refresh_token_let_exactly_one_through(app, customer):
    refresh = tokens.issue_tokens(customer)["refresh"]

    assert _race(app, lambda: services.refresh_tokens(refresh=refresh), threads=4) == ["ok"] + ["refused"] * 3


@needs_postgres
def test_concurrent_uses_of_one_reset_token_let_exactly_one_through(app, customer):
    token = services.password_reset_token(customer)

    def reset():
        services.reset_password(token=token, new_password="Quartz-Kettle-91", new_password2="Quartz-Kettle-91")

    assert _race(app, reset) == ["ok", "refused"]
    assert _fresh(customer.id).token_version == customer.token_version + 1


def test_revocation_fails_closed_when_its_store_is_unreachable(client, customer_headers, monkeypatch):
    def store_down(_payload):
        raise OperationalError("SELECT ...", {}, ConnectionError("database unreachable"))

    monkeypatch.setattr(tokens, "token_user", store_down)

    response = client.get("/api/auth/user/", headers=customer_headers)

    assert response.status_code == 503
    assert response.json["code"] == 503


def test_purge_forgets_only_revocations_of_expired_tokens(customer):
    now = utcnow()
    for jti, expires in (("expired", now - timedelta(seconds=1)), ("live", now + timedelta(days=7))):
        tokens.add_revocation({"jti": jti, "type": "refresh", "sub": str(customer.id), "exp": int(expires.timestamp())})
    db.session.commit()

    assert services.purge_revoked_tokens() == 1

    db.session.remove()
    assert db.session.scalars(select(RevokedToken.jti)).all() == ["live"]


def test_the_purge_runs_periodically(app):
    from nexus.auth.tasks import purge_revoked_tokens_task

    assert purge_revoked_tokens_task.name == "auth.purge_revoked_tokens"
    assert purge_revoked_tokens_task.name in app.extensions["celery"].tasks
    assert any(entry["task"] == "auth.purge_revoked_tokens" for entry in BEAT_SCHEDULE.values())
