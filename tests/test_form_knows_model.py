"""The generation form knows the model and the provider (issue 9, "A form that knows the model")."""

from __future__ import annotations

import pytest

from videos.models import Generation, Provider, Status, VideoModel, local_render_seconds

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def estimate_html(client, **query: str) -> str:
    query = {"model_name": "kling-v1", "mode": "std", "duration": "5", **query}
    return client.get("/generations/estimate/", query, **HTMX).content.decode()


def kling_provider(**fields) -> Provider:
    return Provider.objects.create(
        name=fields.pop("name", "kling"), kind=Provider.Kind.KLING, priority=10, **fields
    )


# ---- the typical time of the provider that serves the job ----------------------------------
def test_the_local_renderer_shows_seconds_from_the_clip_length_not_the_upstream_time(
    alice_client, local_provider
) -> None:
    short = estimate_html(alice_client, duration="5")
    long = estimate_html(alice_client, duration="10")
    assert f"typical time ~{local_render_seconds(5)} s on local" in short
    assert local_render_seconds(5) < local_render_seconds(10) < 120
    assert f"typical time ~{local_render_seconds(10)} s on local" in long
    assert "~120 s" not in short


def test_a_real_upstream_shows_the_catalogue_time(alice_client, local_provider) -> None:
    kling_provider()
    assert "typical time ~120 s on kling" in estimate_html(alice_client)


def test_a_provider_override_wins_over_the_catalogue(alice_client, local_provider) -> None:
    kling_provider(typical_seconds=45)
    assert "typical time ~45 s on kling" in estimate_html(alice_client)


def test_the_chosen_provider_decides_the_time(alice_client, local_provider) -> None:
    kling = kling_provider()
    html = estimate_html(alice_client, provider=str(local_provider.pk))
    assert f"~{local_render_seconds(5)} s on local" in html
    assert "~120 s on kling" in estimate_html(alice_client, provider=str(kling.pk))


def test_the_form_page_shows_the_local_time(alice_client, local_provider) -> None:
    html = alice_client.get("/generations/new/").content.decode()
    assert f"typical time ~{local_render_seconds(5)} s on local" in html


def test_a_queued_card_shows_the_time_of_the_provider_that_will_take_it(
    alice_client, make_generation, local_provider
) -> None:
    make_generation(status=Status.QUEUED, duration=10)
    html = alice_client.get("/").content.decode()
    assert f"/ ~{local_render_seconds(10)}s typical" in html
    kling_provider(typical_seconds=77)
    assert "/ ~77s typical" in alice_client.get("/").content.decode()


def test_a_submitted_card_shows_its_own_provider_time(
    alice_client, make_generation, local_provider
) -> None:
    kling = kling_provider(typical_seconds=77)
    generation = make_generation(status=Status.QUEUED, duration=5)
    Generation.objects.filter(pk=generation.pk).update(provider=local_provider)
    html = alice_client.get("/").content.decode()
    assert f"/ ~{local_render_seconds(5)}s typical" in html and "~77s" not in html
    detail = alice_client.get(generation.get_absolute_url()).content.decode()
    assert f"of ~{local_render_seconds(5)} s typical" in detail
    assert kling.typical_seconds_for(VideoModel.objects.get(name="kling-v1"), 5) == 77
