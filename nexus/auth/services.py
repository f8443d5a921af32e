"""The rules of accounts: registration, sign-in, token rotation and revocation, profile, password and email flows."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from marshmallow import ValidationError, validate
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from nexus.auth import passwords, tasks, tokens
from nexus.auth.exceptions import InvalidCredentials, InvalidToken, UserNotFound
from nexus.auth.models import User
from nexus.common import outbox
from nexus.common.errors import ValidationFailed
from nexus.common.mail import send_mail
from nexus.common.models import utcnow
from nexus.extensions import db

EDITABLE_FIELDS = ("first_name", "last_name", "phone_number")
DUPLICATE_EMAIL = "A user with this email address already exists."
_RESET_SALT = "nexus.auth.password-reset"
_VERIFY_SALT = "nexus.auth.verify-email"


# -- reading --------------------------------------------------------------------------------------------


def get_user_or_404(*, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


def get_user_by_email(*, email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


# -- registration and sign-in ---------------------------------------------------------------------------


def register_user(
    *, email: str, password: str, password2: str, first_name: str = "", last_name: str = "", phone_number: str = ""
) -> tuple[User, dict[str, str]]:
    """Create a customer account, ask for its verification email, and sign it in."""
    email = email.strip().lower()
    errors = _new_password_errors(password, password2, email=email, names=(first_name, last_name))
    if get_user_by_email(email=email) is not None:
        errors["email"] = [DUPLICATE_EMAIL]
    if errors:
        raise ValidationFailed(errors=errors)
    now = utcnow()
    user = User(
        email=email,
        password_hash=passwords.hash_password(password),
        first_name=first_name,
        last_name=last_name,
        phone_number=phone_number,
        created_at=now,
        updated_at=now,
    )
    _insert_user(user)
    outbox.enqueue(tasks.send_verification_email_task, user.id)
    pair = tokens.issue_tokens(user)
    _commit_new_user()
    return user, pair


def create_superuser(*, email: str, password: str) -> User:
    """A verified staff account, for operators (`flask create-superuser`)."""
    email = email.strip().lower()
    try:
        validate.Email(error="Enter a valid email address.")(email)
    except ValidationError as exc:
        raise ValidationFailed(errors={"email": exc.messages}) from exc
    errors = _new_password_errors(password, password, email=email)
    if get_user_by_email(email=email) is not None:
        errors["email"] = [DUPLICATE_EMAIL]
    if errors:
        raise ValidationFailed(errors=errors)
    user = User(email=email, password_hash=passwords.hash_password(password), is_staff=True, is_verified=True)
    _insert_user(user)
    _commit_new_user()
    return user


def authenticate(*, email: str, password: str) -> dict[str, str]:
    """A token pair for the right email and password of an active account; InvalidCredentials otherwise."""
    user = get_user_by_email(email=email)
    if user is None:
        # Verify against a dummy hash so an unknown email takes as long as a wrong password.
        passwords.dummy_check(password)
        raise InvalidCredentials()
    if not passwords.check_password(user.password_hash, password) or not user.is_active:
        raise InvalidCredentials()
    values = {"last_login": utcnow(), "updated_at": User.updated_at}  # signing in is not a profile change
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = passwords.hash_password(password)
    # Conditional on the hash just verified: a password changed meanwhile is never overwritten with the old one.
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    pair = tokens.issue_tokens(user)
    outbox.commit()
    return pair


# -- tokens ---------------------------------------------------------------------------------------------


def refresh_tokens(*, refresh: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the refresh token given is revoked (rotation), so it works once."""
    payload = tokens.decode(refresh, token_type="refresh")
    user = tokens.token_user(payload)
    if user is None:
        raise InvalidToken("Token has been revoked, or its user is no longer active.")
    # The insert decides between concurrent uses of one refresh token: exactly one of them wins.
    if not tokens.add_revocation(payload):
        outbox.rollback()
        raise InvalidToken("Token has been revoked.")
    pair = tokens.issue_tokens(user)
    outbox.commit()
    return pair


def verify_token(*, token: str) -> None:
    """Nothing when the token (access or refresh) is valid now; InvalidToken otherwise."""
    if tokens.token_user(tokens.decode(token)) is None:
        raise InvalidToken("Token has been revoked, or its user is no longer active.")


def logout(*, user_id: int, access_claims: dict, refresh: str | None = None) -> None:
    """Revoke the access token used, and the refresh token given when it is a valid one of the same user."""
    tokens.add_revocation(access_claims)
    if refresh:
        try:
            payload = tokens.decode(refresh, token_type="refresh")
        except InvalidToken:
            payload = None
        if payload is not None and payload.get("sub") == str(user_id):
            tokens.add_revocation(payload)
    outbox.commit()


def purge_revoked_tokens() -> int:
    """Delete revocations of tokens that have expired anyway; how many went."""
    count = tokens.delete_expired_revocations()
    outbox.commit()
    return count


# -- profile --------------------------------------------------------------------------------------------


def update_user(*, user_id: int, **changes: str) -> User:
    """Change the editable fields given (first_name, last_name, phone_number), nothing else."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(errors={name: ["Unknown field."] for name in sorted(unknown)})
    user = get_user_or_404(user_id=user_id)
    for name, value in changes.items():
        setattr(user, name, value)
    outbox.commit()
    return user


# -- passwords ------------------------------------------------------------------------------------------


def change_password(*, user_id: int, old_password: str, new_password: str, new_password2: str) -> dict[str, str]:
    """Set a new password after checking the old one; every older token is refused, a new pair is returned."""
    user = get_user_or_404(user_id=user_id)
    if not passwords.check_password(user.password_hash, old_password):
        raise ValidationFailed(errors={"old_password": ["The old password is incorrect."]})
    errors = _new_password_errors(
        new_password, new_password2, email=user.email, names=(user.first_name, user.last_name), prefix="new_"
    )
    if errors:
        raise ValidationFailed(errors=errors)
    if not _replace_password(user, expected_hash=user.password_hash, new_password=new_password):
        raise ValidationFailed(errors={"old_password": ["The password was changed meanwhile; try again."]})
    pair = tokens.issue_tokens(user)
    outbox.commit()
    return pair


def update_user_by_staff(*, user_id: int, changes: dict) -> User:
    """Staff change a user's names, phone, is_active or is_staff; a change of access revokes their tokens."""
    unknown = set(changes) - {*EDITABLE_FIELDS, "is_active", "is_staff"}
    if unknown:
        raise ValidationFailed(errors={name: ["Unknown field."] for name in sorted(unknown)})
    user = get_user_or_404(user_id=user_id)
    access_changed = any(name in changes and changes[name] != getattr(user, name) for name in ("is_active", "is_staff"))
    for name, value in changes.items():
        setattr(user, name, value)
    if access_changed:
        user.token_version += 1  # tokens and admin sessions issued under the old access stop working
    outbox.commit()
    return user


def set_password_by_staff(*, user_id: int, new_password: str, new_password2: str) -> None:
    """Staff set a user's password, under the same strength rules; every older token and session is refused."""
    user = get_user_or_404(user_id=user_id)
    errors = _new_password_errors(
        new_password, new_password2, email=user.email, names=(user.first_name, user.last_name), prefix="new_"
    )
    if errors:
        raise ValidationFailed(errors=errors)
    if not _replace_password(user, expected_hash=user.password_hash, new_password=new_password):
        raise ValidationFailed(errors={"new_password": ["The password was changed meanwhile; try again."]})
    outbox.commit()


def request_password_reset(*, email: str) -> None:
    """Email a reset token when an active account has this address; do the same visible nothing otherwise."""
    user = get_user_by_email(email=email)
    if user is not None and user.is_active:
        outbox.enqueue(tasks.send_password_reset_email_task, user.id)
        outbox.commit()


def reset_password(*, token: str, new_password: str, new_password2: str) -> None:
    """Set the password a reset token was issued for. The token dies with the password it was made from, so it
    works once; every token signed in before is refused; the account counts as verified (the mail arrived)."""
    payload = _load_signed(token, salt=_RESET_SALT, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    user = _signed_user(payload)
    if (
        user is None
        or not user.is_active
        or not hmac.compare_digest(str(payload.get("fp", "")), _fingerprint(user.password_hash))
    ):
        raise _bad_token("token")
    errors = _new_password_errors(
        new_password, new_password2, email=user.email, names=(user.first_name, user.last_name), prefix="new_"
    )
    if errors:
        raise ValidationFailed(errors=errors)
    # Conditional on the hash the token was made from: of two concurrent uses of one token, one wins.
    if not _replace_password(user, expected_hash=user.password_hash, new_password=new_password, verified=True):
        raise _bad_token("token")
    outbox.commit()


def password_reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps({"uid": user.id, "fp": _fingerprint(user.password_hash)})


# -- email verification ---------------------------------------------------------------------------------


def verify_email(*, key: str) -> User:
    """Mark the account verified, for a key sent to its current address."""
    payload = _load_signed(key, salt=_VERIFY_SALT, max_age=current_app.config["EMAIL_VERIFY_MAX_AGE"])
    user = _signed_user(payload)
    if user is None or payload.get("email") != user.email:
        raise _bad_token("key")
    if not user.is_verified:
        user.is_verified = True
        outbox.commit()
    return user


def resend_verification_email(*, user_id: int) -> bool:
    """Send a new verification email; False (and no email) when the account is verified already."""
    user = get_user_or_404(user_id=user_id)
    if user.is_verified:
        return False
    outbox.enqueue(tasks.send_verification_email_task, user.id)
    outbox.commit()
    return True


def email_verification_key(user: User) -> str:
    return _serializer(_VERIFY_SALT).dumps({"uid": user.id, "email": user.email})


# -- emails (run by the tasks; they build the secret at sending time, so no secret waits in a queue) -----


def send_verification_email(*, user_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or user.is_verified or not user.is_active:
        return False
    key = email_verification_key(user)
    hours = current_app.config["EMAIL_VERIFY_MAX_AGE"] // 3600
    body = (
        f"Hello {user.first_name or user.email},\n\n"
        f"Please confirm your email address for Nexus Store by opening this link:\n"
        f"{current_app.config['FRONTEND_URL']}/verify-email?key={key}\n\n"
        f"or by sending this key to POST /api/auth/verify-email/:\n\nkey: {key}\n\n"
        f"The key is valid for {hours} hours. If you did not sign up, ignore this email.\n"
    )
    send_mail(to=user.email, subject="Confirm your email address", body=body)
    return True


def send_password_reset_email(*, user_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        return False
    token = password_reset_token(user)
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    body = (
        f"Hello {user.first_name or user.email},\n\n"
        f"Someone asked to reset the password of your Nexus Store account. To choose a new one, open:\n"
        f"{current_app.config['FRONTEND_URL']}/password-reset?token={token}\n\n"
        f"or send this token to POST /api/auth/password/reset/confirm/:\n\ntoken: {token}\n\n"
        f"It works once, within {minutes} minutes. If you did not ask for it, ignore this email: "
        f"your password stays as it is.\n"
    )
    send_mail(to=user.email, subject="Reset your password", body=body)
    return True


# -- helpers (they flush at most; the use case commits) -------------------------------------------------


def _new_password_errors(
    password: str, password2: str, *, email: str, names: tuple[str, ...] = (), prefix: str = ""
) -> dict[str, list[str]]:
    errors = {}
    problems = passwords.password_problems(password, email=email, names=names)
    if problems:
        errors[f"{prefix}password"] = problems
    if password != password2:
        errors[f"{prefix}password2"] = ["The two password fields didn't match."]
    return errors


def _insert_user(user: User) -> None:
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # A concurrent registration took the address between our check and the insert.
        outbox.rollback()
        raise ValidationFailed(errors={"email": [DUPLICATE_EMAIL]}) from exc


def _commit_new_user() -> None:
    try:
        outbox.commit()
    except IntegrityError as exc:
        outbox.rollback()
        raise ValidationFailed(errors={"email": [DUPLICATE_EMAIL]}) from exc


def _replace_password(user: User, *, expected_hash: str, new_password: str, verified: bool = False) -> bool:
    """Swap the password hash when it still is `expected_hash`, and bump the token version; False if it was not."""
    values = {"password_hash": passwords.hash_password(new_password), "token_version": User.token_version + 1}
    if verified:
        values["is_verified"] = True
    new_version = db.session.scalar(
        update(User)
        .where(User.id == user.id, User.password_hash == expected_hash)
        .values(**values, updated_at=utcnow())
        .returning(User.token_version)
        .execution_options(synchronize_session=False)
    )
    if new_version is None:
        return False
    db.session.refresh(user)
    return True


def _fingerprint(password_hash: str) -> str:
    # A digest, not the hash itself: the token's payload is signed, not encrypted.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _load_signed(value: str, *, salt: str, max_age: int) -> dict:
    field = "token" if salt == _RESET_SALT else "key"
    try:
        payload = _serializer(salt).loads(value, max_age=max_age)
    except BadData as exc:
        raise _bad_token(field) from exc
    if not isinstance(payload, dict):
        raise _bad_token(field)
    return payload


def _signed_user(payload: dict) -> User | None:
    uid = payload.get("uid")
    return db.session.get(User, uid) if isinstance(uid, int) and 0 < uid <= tokens.MAX_ID else None


def _bad_token(field: str) -> ValidationFailed:
    return ValidationFailed(errors={field: [f"Invalid or expired {field}."]})
