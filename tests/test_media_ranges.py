"""Stored media answers Range requests (seeking in <video>) and only to allowed users."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from videos.media import signed_media_path

pytestmark = pytest.mark.django_db

BODY = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable


@pytest.fixture
def stored(make_generation):
    generation = make_generation(status="succeeded")
    name = default_storage.save(f"videos/{generation.pk}/video.mp4", ContentFile(BODY))
    generation.video.name = name
    generation.save(update_fields=["video"])
    return generation


def url(generation) -> str:
    return f"/generations/{generation.pk}/media/video/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_it_answers_a_byte_range_with_206_and_exactly_those_bytes(alice_client, stored) -> None:
    response = alice_client.get(url(stored), HTTP_RANGE="bytes=100-299")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-299/{len(BODY)}"
    assert response["Content-Length"] == "200"
    assert body(response) == BODY[100:300]


def test_it_answers_open_and_suffix_ranges(alice_client, stored) -> None:
    assert body(alice_client.get(url(stored), HTTP_RANGE="bytes=10000-")) == BODY[10000:]
    assert body(alice_client.get(url(stored), HTTP_RANGE="bytes=-16")) == BODY[-16:]


def test_it_answers_416_for_a_range_past_the_end(alice_client, stored) -> None:
    response = alice_client.get(url(stored), HTTP_RANGE="bytes=99999-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(BODY)}"


def test_it_serves_the_whole_file_without_a_range(alice_client, stored) -> None:
    response = alice_client.get(url(stored))
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert body(response) == BODY and response["Content-Type"] == "video/mp4"


def test_a_teammate_may_watch_but_a_stranger_may_not(bob_client, stored) -> None:
    assert body(bob_client.get(url(stored), HTTP_RANGE="bytes=0-9")) == BODY[:10]
    anonymous = Client().get(url(stored))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_a_signed_link_serves_without_a_session_and_a_forged_one_does_not(stored) -> None:
    link = signed_media_path(stored.video.name)
    assert body(Client().get(link, HTTP_RANGE="bytes=5-9")) == BODY[5:10]
    assert Client().get(link[:-3] + "xx/").status_code == 404


def test_it_offers_a_download_name(alice_client, stored) -> None:
    response = alice_client.get(url(stored) + "?download=1")
    assert f'filename="generation-{stored.pk}.mp4"' in response["Content-Disposition"]
