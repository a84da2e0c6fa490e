"""Shared fixtures: users, the local provider, and a factory for generations."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from videos.models import Generation, Provider


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(db: None) -> User:
    return User.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def staff_user(db: None) -> User:
    return User.objects.create_user("root", password="pw-root-123", is_staff=True, is_superuser=True)


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
