"""The data migration taking user names and passwords out of URLs saved before they were refused."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from videos.models import Generation, GenerationEvent

forget = import_module("videos.migrations.0010_forget_url_credentials").forget


@pytest.mark.django_db
def test_it_removes_credentials_from_urls_messages_and_the_timeline(make_generation) -> None:
    leaky = make_generation(
        kind="image2video",
        image_url="http://ann:s3cret@images.example.com/a.jpg",
        image_tail_url="https://token@cdn.example.com/b.png",
    )
    Generation.objects.filter(pk=leaky.pk).update(
        status_message="The first frame at http://ann:s3cret@images.example.com/a.jpg is not usable"
    )
    leaky.record("error", "fetching http://ann:s3cret@images.example.com/a.jpg failed")
    clean = make_generation(
        prompt="mail me at ann@example.com", image_url="https://example.com/c.jpg"
    )

    forget(apps, None)

    leaky.refresh_from_db()
    assert leaky.image_url == "http://images.example.com/a.jpg"
    assert leaky.image_tail_url == "https://cdn.example.com/b.png"
    assert (
        "s3cret" not in leaky.status_message and "images.example.com/a.jpg" in leaky.status_message
    )
    messages = list(
        GenerationEvent.objects.filter(generation=leaky).values_list("message", flat=True)
    )
    assert not any("s3cret" in m for m in messages)
    clean.refresh_from_db()
    assert (
        clean.prompt == "mail me at ann@example.com"
        and clean.image_url == "https://example.com/c.jpg"
    )
