"""The interface in English and Simplified Chinese; the API always in English.

The language comes from the user's remembered choice, then the switcher's cookie, then the
browser's Accept-Language (studio.middleware.LanguageMiddleware).
"""

from __future__ import annotations

import re

import pytest
from api_helpers import bearer, issue
from django.contrib.auth.models import User
from django.test import Client

from studio.models import UserPreference

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, response.content[:200]
    return match.group(1)


def test_it_speaks_english_by_default(alice_client: Client) -> None:
    page = alice_client.get("/")
    assert html_lang(page) == "en"
    assert page["Content-Language"] == "en"
    assert "Accept-Language" in page["Vary"]


def test_accept_language_zh_picks_chinese_for_the_html_lang(alice_client: Client) -> None:
    page = alice_client.get("/", **ZH)
    assert html_lang(page) == "zh-hans"
    assert page["Content-Language"] == "zh-hans"


def test_the_header_has_a_language_switch_posting_to_set_language(alice_client: Client) -> None:
    html = alice_client.get("/").content.decode()
    form = re.search(
        r'<form class="language-switch" method="post" action="/i18n/setlang/">(.*?)</form>',
        html,
        re.S,
    )
    assert form, "no language switch in the header"
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in form.group(1)
    assert "<script" not in form.group(1) and "onchange" not in form.group(1)


def test_the_login_page_has_the_switch_too(client: Client) -> None:
    html = client.get("/login/").content.decode()
    assert 'action="/i18n/setlang/"' in html


def test_switching_is_remembered_for_the_user_across_sessions(user: User) -> None:
    first = Client()
    first.force_login(user)
    answer = first.post("/i18n/setlang/", {"language": "zh-hans", "next": "/history/"})
    assert answer.status_code == 302 and answer["Location"] == "/history/"
    assert UserPreference.language_of(user) == "zh-hans"
    assert html_lang(first.get("/")) == "zh-hans"

    # Another browser, no cookie, an English Accept-Language: the user's choice wins.
    second = Client()
    second.force_login(user)
    assert html_lang(second.get("/", HTTP_ACCEPT_LANGUAGE="en-US")) == "zh-hans"

    second.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert UserPreference.language_of(user) == "en"
    third = Client()
    third.force_login(user)
    assert html_lang(third.get("/", **ZH)) == "en"


def test_an_unknown_language_is_not_remembered(alice_client: Client, user: User) -> None:
    alice_client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert UserPreference.language_of(user) == ""
    assert html_lang(alice_client.get("/")) == "en"


def test_an_anonymous_switch_sets_the_cookie_only(client: Client) -> None:
    answer = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert answer.status_code == 302
    assert html_lang(client.get("/login/")) == "zh-hans"
    assert not UserPreference.objects.exists()


def test_the_switch_refuses_get(alice_client: Client) -> None:
    assert alice_client.get("/i18n/setlang/?language=zh-hans").status_code == 405


def test_an_api_error_stays_english_with_a_chinese_accept_language(user: User) -> None:
    _key, secret = issue(user)
    client = Client()
    answer = client.post(
        "/kling/v1/videos/text2video",
        {"model_name": "kling-v1", "prompt": "", "duration": "5"},
        content_type="application/json",
        **bearer(secret),
        **ZH,
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 1201
    assert body["message"] == "prompt: A prompt is required."
    assert "Content-Language" not in answer


def test_an_api_error_from_a_shared_field_stays_english(user: User) -> None:
    _key, secret = issue(user)
    answer = Client().post(
        "/v1/videos/text2video",
        {"model_name": "kling-v1", "prompt": "a fox", "duration": "7"},
        content_type="application/json",
        **bearer(secret),
        **ZH,
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "duration: kling-v1 supports durations of 5, 10 seconds."
