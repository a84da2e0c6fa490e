"""Exports: the filtered history as CSV and JSON, selected videos as one streamed zip."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.test import Client

from review.models import Comment, Rating, Tagging
from videos.models import Generation

pytestmark = pytest.mark.django_db


def body(response: StreamingHttpResponse) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


@pytest.fixture
def judged(make_generation: Any, user: User, other_user: User) -> Generation:
    generation = make_generation(
        id=31,
        prompt='a "quoted", comma prompt',
        status="succeeded",
        mode="pro",
        units=Decimal("3.50"),
        camera_control={"type": "simple", "config": {"zoom": 2}},
    )
    Tagging.add(generation, "keep", user)
    Tagging.add(generation, "blue", user)
    Rating.set(user, generation, 5)
    Rating.set(other_user, generation, 4)
    Comment.post(generation, other_user, "good", None)
    make_generation(id=30, prompt="a failed one", status="failed", status_message="quota")
    make_generation(id=29, prompt="bob's", owner=other_user, status="succeeded")
    return generation


def test_it_exports_the_filtered_history_as_csv(alice_client: Client, judged: Generation) -> None:
    response = alice_client.get("/history/export.csv", {"mine": "on", "per": "10", "before": "99"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="studio-history-')
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [row["id"] for row in rows] == ["31", "30"]
    first = rows[0]
    assert first["prompt"] == 'a "quoted", comma prompt'
    assert (first["author"], first["source"], first["mode"], first["units"]) == (
        "alice",
        "web",
        "pro",
        "3.50",
    )
    assert first["tags"] == "blue keep" and first["rating_average"] == "4.5"
    assert (first["rating_count"], first["comment_count"]) == ("2", "1")
    assert json.loads(first["camera_control"]) == {"type": "simple", "config": {"zoom": 2}}
    assert rows[1]["status_message"] == "quota"


def test_it_exports_every_page_not_just_the_first(
    alice_client: Client, make_generation: Any
) -> None:
    for n in range(120):
        make_generation(id=1000 + n)
    rows = list(
        csv.DictReader(
            io.StringIO(body(alice_client.get("/history/export.csv", {"per": "10"})).decode())
        )
    )
    assert len(rows) == 120 and rows[0]["id"] == "1119" and rows[-1]["id"] == "1000"


def test_it_exports_the_searched_history_as_json(alice_client: Client, judged: Generation) -> None:
    response = alice_client.get("/history/export.json", {"q": "comma"})
    assert response["Content-Type"] == "application/json"
    assert re.fullmatch(
        r'attachment; filename="studio-history-\d{8}-\d{6}\.json"',
        response["Content-Disposition"],
    )
    data = json.loads(body(response))
    assert len(data) == 1
    item = data[0]
    assert item["id"] == "31" and item["tags"] == ["blue", "keep"]
    assert item["rating_average"] == 4.5 and item["units"] == "3.50"
    assert item["camera_control"] == {"type": "simple", "config": {"zoom": 2}}


def test_it_exports_an_empty_list_when_nothing_matches(
    alice_client: Client, judged: Generation
) -> None:
    assert (
        json.loads(body(alice_client.get("/history/export.json", {"q": "nothing-like-this"}))) == []
    )


def test_it_rejects_invalid_export_filters_on_a_page(alice_client: Client) -> None:
    response = alice_client.get("/history/export.csv", {"status": "bogus"})
    html = response.content.decode()
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert "<title>Nothing exported · Studio</title>" in html
    assert "Status: Select a valid choice. bogus is not one of the available choices." in html
    assert 'href="/history/?status=bogus"' in html  # back to the filters, to fix them


def test_it_refuses_unknown_export_formats(alice_client: Client) -> None:
    assert alice_client.get("/history/export.xml").status_code == 404


def test_it_needs_a_login_to_export(client: Client, judged: Generation) -> None:
    response = client.get("/history/export.csv")
    assert response.status_code == 302 and "/login/" in response["Location"]


def _with_video(make_generation: Any, pk: int, data: bytes, prompt: str) -> Generation:
    name = default_storage.save(f"videos/{pk}/video.mp4", ContentFile(data))
    return make_generation(id=pk, prompt=prompt, status="succeeded", video=name)


def test_it_streams_the_selected_videos_as_one_zip(
    alice_client: Client, make_generation: Any
) -> None:
    big = bytes(range(256)) * 12_000  # ~3 MB: several blocks
    _with_video(make_generation, 41, big, "Big Fox!")
    _with_video(make_generation, 42, b"small video", "")
    make_generation(id=43, status="failed")  # nothing to download: skipped
    response = alice_client.get("/history/videos.zip", {"ids": ["42", "41", "43"]})
    assert response["Content-Type"] == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="studio-videos-\d{8}-\d{6}\.zip"', response["Content-Disposition"]
    )
    chunks = list(response.streaming_content)
    # Streamed in blocks, never the whole archive (or a whole video) at once.
    assert len(chunks) > 3 and max(len(chunk) for chunk in chunks) < 2 * 1024 * 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.namelist() == ["42-video.mp4", "41-big-fox.mp4", "manifest.json"]
    assert archive.read("41-big-fox.mp4") == big
    assert archive.read("42-video.mp4") == b"small video"
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert [(m["file"], m["id"], m["prompt"]) for m in manifest] == [
        ("42-video.mp4", "42", ""),
        ("41-big-fox.mp4", "41", "Big Fox!"),
    ]


def test_it_refuses_a_zip_of_unknown_generations(
    alice_client: Client, make_generation: Any
) -> None:
    _with_video(make_generation, 41, b"x", "x")
    response = alice_client.get("/history/videos.zip", {"ids": ["41", "404"]})
    assert response.status_code == 400 and b"No such generation: 404." in response.content


def test_a_zip_of_nothing_says_so_on_a_page_not_in_raw_text(
    alice_client: Client, make_generation: Any
) -> None:
    response = alice_client.get("/history/videos.zip", {"q": "fox"})
    html = response.content.decode()
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert "<title>Nothing exported · Studio</title>" in html
    assert '<link rel="stylesheet" href="/static/css/studio.css">' in html
    assert "Select at least one generation to download." in html
    assert "This field is required" not in html
    assert 'href="/history/?q=fox"' in html  # back to the history as it was


def test_it_needs_a_login_for_the_zip(client: Client, make_generation: Any) -> None:
    _with_video(make_generation, 41, b"x", "x")
    response = client.get("/history/videos.zip", {"ids": ["41"]})
    assert response.status_code == 302 and "/login/" in response["Location"]
