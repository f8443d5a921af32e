"""factory_boy factories for the models of every domain; objects are committed so any session sees them."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from nexus.auth.models import User
from nexus.auth.passwords import hash_password
from nexus.extensions import db

PASSWORD = "Correct-Horse-42"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))
    is_active = True
    is_staff = False
    is_verified = False
