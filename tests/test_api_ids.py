"""Task ids and cursors from URLs and query strings: ASCII digits only, a 404/400 otherwise.

str.isdigit() accepts superscripts ("²") that int() refuses, and int() accepts other
scripts' digits ("١٢" is 12): either way an id that is not plain 0-9 names no task.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api_helpers import bearer, issue

pytestmark = pytest.mark.django_db

# Unicode digits of every sort: superscripts (isdigit, not int), Arabic-Indic and
# full-width (int() reads them), and ASCII mixed with them.
NOT_ASCII_IDS = ["²", "¹²", "³", "1²", "١٢", "１２", "𝟏𝟐", "½", "Ⅻ"]
OTHER_BAD_IDS = ["+12", "-12", "12.0", "0x0c", " 12", "1_2", "9" * 40]

# (method, path with {id}, family)
TASK_ROUTES = [
    ("GET", "/kling/v1/videos/text2video/{id}", "kling"),
    ("GET", "/kling/v1/videos/image2video/{id}", "kling"),
    ("GET", "/v1/videos/text2video/{id}", "kling"),
    ("GET", "/v1/video/generations/{id}", "kling"),
    ("GET", "/v1/videos/{id}", "openai"),
    ("DELETE", "/v1/videos/{id}", "openai"),
    ("GET", "/v1/videos/{id}/content", "openai"),
]


@pytest.fixture
def secret(user: Any) -> str:
    return issue(user, requests_per_minute=100_000)[1]


@pytest.fixture
def task_12(make_generation: Any) -> Any:
    """A task of the caller whose id is 12, which "١٢" or "１２" would read as."""
    return make_generation(id=12, kind="text2video")


@pytest.mark.parametrize(("method", "route", "family"), TASK_ROUTES)
@pytest.mark.parametrize("task_id", NOT_ASCII_IDS + OTHER_BAD_IDS)
def test_a_task_id_that_is_not_ascii_digits_is_a_404_in_the_familys_shape(
    method: str, route: str, family: str, task_id: str, secret: str, task_12: Any
) -> None:
    client = Client(raise_request_exception=False)
    response = client.generic(method, route.format(id=task_id), **bearer(secret))
    assert response.status_code == 404, response.content[:300]
    body = response.json()
    if family == "openai":
        assert body["error"]["code"] == "not_found" and body["error"]["param"] == "task_id"
    else:
        assert body["code"] == 1203 and set(body) == {"code", "message", "request_id"}
    assert task_12.__class__.objects.filter(pk=12).exists()  # DELETE removed nothing


@pytest.mark.parametrize(
    ("method", "route", "family"), [r for r in TASK_ROUTES if "image2video" not in r[1]][:-2]
)
def test_the_same_id_in_ascii_digits_finds_the_task(
    method: str, route: str, family: str, secret: str, task_12: Any
) -> None:
    response = Client().generic(method, route.format(id="12"), **bearer(secret))
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("after", NOT_ASCII_IDS + OTHER_BAD_IDS)
def test_a_list_cursor_that_is_not_ascii_digits_is_a_400_naming_after(
    after: str, secret: str, task_12: Any, make_generation: Any
) -> None:
    make_generation(id=13)
    client = Client(raise_request_exception=False)
    response = client.get("/v1/videos", {"after": after, "order": "asc"}, **bearer(secret))
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid_value" and error["param"] == "after"


def test_an_ascii_cursor_pages_on(secret: str, task_12: Any, make_generation: Any) -> None:
    make_generation(id=13)
    response = Client().get("/v1/videos", {"after": "12", "order": "asc"}, **bearer(secret))
    assert [video["id"] for video in response.json()["data"]] == ["13"]


@pytest.mark.parametrize("value", ["²", "١", "1.5", "abc", "-1", "99999999999999999999"])
@pytest.mark.parametrize("name", ["pageNum", "pageSize"])
def test_kling_paging_with_odd_numbers_is_a_400_naming_the_parameter(
    name: str, value: str, secret: str
) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/kling/v1/videos/text2video", {name: value}, **bearer(secret))
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == 1201 and name in body["message"]


@pytest.mark.parametrize("size", ["１２８０x７２０", "١٢٨٠x٧٢٠", "1280x720²"])
def test_an_openai_size_in_other_digits_is_a_400_naming_size(size: str, secret: str) -> None:
    body = {"prompt": "a fox", "size": size}
    response = Client().post("/v1/videos", body, content_type="application/json", **bearer(secret))
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["param"] == "size"
