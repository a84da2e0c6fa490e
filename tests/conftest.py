"""Shared fixtures: users, the local provider, and a factory for generations."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from videos.models import Generation, Provider, VideoModel

# The data migrations that seed the catalogue and the local provider, in order.
SEEDING_MIGRATIONS = [
    "0002_seed_catalogue_and_local_provider",
    "0007_kinds_catalogue_and_inputs",
    "0009_effect_scenes",
    "0013_gateway_kinds_and_models",
]
DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


@pytest.fixture(autouse=True)
def _seeded_catalogue(request: pytest.FixtureRequest) -> None:
    """Put back the migration-seeded catalogue and local provider.

    Transactional tests (live server, worker processes) end by flushing every table,
    which also removes the rows the data migration seeded for the tests after them.
    """
    if not (
        request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames)
    ):
        return
    transactional = {"transactional_db", "live_server"} & set(request.fixturenames)
    request.getfixturevalue("transactional_db" if transactional else "db")
    if not VideoModel.objects.exists() or not Provider.objects.filter(name="local").exists():
        from importlib import import_module

        from django.apps import apps

        for migration in SEEDING_MIGRATIONS:
            import_module(f"videos.migrations.{migration}").seed(apps, None)


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(db: None) -> User:
    return User.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def staff_user(db: None) -> User:
    return User.objects.create_user(
        "root", password="pw-root-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def alice_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bob_client(other_user: User) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def staff_client(staff_user: User) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def local_provider(db: None) -> Provider:
    return Provider.objects.get(name="local")


@pytest.fixture
def make_generation(db: None, user: User) -> Any:
    """Create a generation row directly (no job runs): for views and queries."""

    def make(**fields: Any) -> Generation:
        fields.setdefault("owner", user)
        fields.setdefault("prompt", "a red fox running through snow")
        return Generation.objects.create(**fields)

    return make
