"""Password hashing (Argon2id) and the strength rules applied to every new password."""

from __future__ import annotations

from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 8
_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def _current_hasher() -> PasswordHasher:
    return _hasher(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _current_hasher().check_needs_rehash(password_hash)


# A hash to verify against when the account does not exist, so a login takes as long either way.
def dummy_check(password: str) -> None:
    check_password(
        _dummy_hash(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"]), password
    )


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int) -> str:
    return _hasher(time_cost, memory_cost).hash("not-a-real-password")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(
        line.strip().lower() for line in _COMMON_FILE.read_text(encoding="utf-8").splitlines() if line.strip()
    )


def password_problems(password: str, *, email: str = "", names: tuple[str, ...] = ()) -> list[str]:
    """Why a password is too weak; an empty list when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"This password is too short. It must contain at least {MIN_LENGTH} characters.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    if password.lower() in _common_passwords():
        problems.append("This password is too common.")
    lowered = password.lower()
    local = email.split("@")[0].lower()
    for attribute in (email.lower(), local, *[name.lower() for name in names if name]):
        if len(attribute) >= 3 and (
            attribute in lowered or SequenceMatcher(a=lowered, b=attribute).quick_ratio() >= 0.7
        ):
            problems.append("The password is too similar to the email address or name.")
            break
    return problems
