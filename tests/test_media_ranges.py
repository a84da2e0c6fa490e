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


def ranged(client, generation, header: str) -> tuple[int, dict[str, str], bytes]:
    """Status, the range headers and the whole body of one Range request."""
    response = client.get(url(generation), HTTP_RANGE=header)
    content = body(response) if response.streaming else response.content
    names = ("Content-Range", "Content-Length", "Accept-Ranges", "Content-Type")
    return response.status_code, {n: response[n] for n in names if response.has_header(n)}, content


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=10000-99999", 10000, 10239),  # an end beyond the file: clamped to the last byte
        ("bytes=10000-10240", 10000, 10239),  # one past the last byte
        ("bytes=10239-10239", 10239, 10239),  # exactly the last byte
        ("bytes=0-0", 0, 0),
        ("bytes=-99999", 0, 10239),  # a suffix longer than the file: the whole file
        ("bytes=-10240", 0, 10239),  # a suffix exactly the file's length
        ("bytes=-1", 10239, 10239),
    ],
)
def test_a_range_at_or_past_the_edges_answers_exactly_the_bytes_it_says(
    alice_client, stored, header: str, first: int, last: int
) -> None:
    status, headers, content = ranged(alice_client, stored, header)
    assert status == 206
    assert headers == {
        "Content-Range": f"bytes {first}-{last}/{len(BODY)}",
        "Content-Length": str(last - first + 1),  # never longer than the body sent
        "Accept-Ranges": "bytes",
        "Content-Type": "video/mp4",
    }
    assert content == BODY[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=10240-20000", "bytes=-0"])
def test_a_range_that_selects_no_byte_is_416_with_the_size(alice_client, stored, header) -> None:
    status, headers, content = ranged(alice_client, stored, header)
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(BODY)}"
    assert content == b""


@pytest.mark.parametrize("header", ["bytes=500-100", "bytes=١٠-٢٠", "bytes=abc-", "items=0-9"])
def test_an_invalid_range_header_is_ignored_and_the_whole_file_served(
    alice_client, stored, header
) -> None:
    """RFC 9110 §14.2: a Range header the server cannot read is ignored, not answered 416."""
    response = alice_client.get(url(stored), HTTP_RANGE=header)
    assert response.status_code == 200
    assert body(response) == BODY and response["Content-Length"] == str(len(BODY))
