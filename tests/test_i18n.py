"""The interface in English and Simplified Chinese; the API always in English.

The language comes from the user's remembered choice, then the switcher's cookie, then the
browser's Accept-Language (studio.middleware.LanguageMiddleware).
"""

from __future__ import annotations

import base64
import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from api_helpers import bearer, issue, post_json
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation
from images import image_bytes, upload

from studio.models import UserPreference

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def _back_to_the_default_language() -> Any:
    # A request activates its language for the thread and nothing deactivates it: without
    # this, a form built directly by the next test file would speak Chinese.
    yield
    translation.deactivate()


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


# ---- the interface reads Chinese --------------------------------------------------------------
def test_accept_language_zh_shows_the_gallery_in_chinese(
    alice_client: Client, make_generation
) -> None:
    make_generation(status="succeeded")
    html = alice_client.get("/", **ZH).content.decode()
    assert "<title>作品库 · 工作室</title>" in html
    assert "新建文生视频" in html and "New text to video" not in html
    assert '<span class="status badge status-succeeded">已完成</span>' in html
    assert ">下载</a>" in html


def test_accept_language_zh_shows_the_form_in_chinese(alice_client: Client) -> None:
    html = alice_client.get("/generations/new/", **ZH).content.decode()
    assert '<label for="id_prompt">提示词</label>' in html
    assert '<label for="id_negative_prompt">负面提示词</label>' in html
    assert '<label for="id_duration">时长</label>' in html
    assert '<label for="id_aspect_ratio">宽高比</label>' in html
    assert "<legend>运镜</legend>" in html
    assert ">生成</button>" in html


def test_a_form_error_is_in_chinese_next_to_its_field(alice_client: Client) -> None:
    html = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "kling-v1", "prompt": "", "duration": "7"},
        **ZH,
    ).content.decode()
    prompt = re.search(r'<div class="field has-error" id="field-prompt">(.*?)</div>', html, re.S)
    assert prompt and '<p class="error" role="alert">请填写提示词。</p>' in prompt.group(1)
    duration = re.search(
        r'<div class="field has-error" id="field-duration">(.*?)</div>', html, re.S
    )
    assert duration and "kling-v1 支持的时长：5, 10 秒。" in duration.group(1)


def test_the_same_form_error_is_english_for_an_english_browser(alice_client: Client) -> None:
    html = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "kling-v1", "prompt": ""},
        HTTP_ACCEPT_LANGUAGE="en-US",
    ).content.decode()
    assert '<p class="error" role="alert">A prompt is required.</p>' in html


def test_a_kind_pages_rule_reads_chinese_on_the_web_and_english_on_the_api(
    alice_client: Client, user: User
) -> None:
    prompt = "<<<image_1>>> meets <<<image_3>>>"
    page = alice_client.post(
        "/generations/new/omni-video/",
        {"prompt": prompt, "reference_1": upload(), "mode": "std", "duration": "6"},
        **ZH,
    ).content.decode()
    beside = re.search(r'<div class="field has-error" id="field-prompt">(.*?)</div>', page, re.S)
    assert beside, page[:2000]
    assert (
        "prompt：&lt;&lt;&lt;image_3&gt;&gt;&gt; 没有对应的输入（只提供了 1 个 image）。"
        in beside.group(1)
    )
    assert "has no matching entry" not in page
    _key, secret = issue(user)
    photo = base64.b64encode(image_bytes(640, 480)).decode()
    answer = post_json(
        Client(),
        "/kling/v1/videos/omni-video",
        {"prompt": prompt, "image_list": [{"image_url": photo}] * 2, "duration": "5"},
        secret,
        **ZH,
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "prompt: <<<image_3>>> has no matching entry (2 images given)."
    )


def test_a_flash_message_is_in_the_users_language(make_generation, user: User) -> None:
    UserPreference.remember_language(user, "zh-hans")
    client = Client()
    client.force_login(user)  # the remembered language joins the session at sign-in
    generation = make_generation(status="succeeded")
    answer = client.post(f"/generations/{generation.pk}/delete/", follow=True)
    assert "已移到回收站" in answer.content.decode()  # the trash's notice, translated


def test_the_error_pages_read_chinese(alice_client: Client) -> None:
    page = alice_client.get("/no-such-page/", **ZH)
    assert page.status_code == 404
    html = page.content.decode()
    assert "<h1>页面不存在</h1>" in html and '<html lang="zh-hans">' in html


def test_dates_and_relative_times_follow_the_language(
    alice_client: Client, make_generation
) -> None:
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    from videos.models import Generation

    generation = make_generation(status="succeeded")
    at = datetime(2026, 3, 7, 9, 5, 4, tzinfo=UTC)
    Generation.objects.filter(pk=generation.pk).update(created_at=at)
    zh = alice_client.get(f"/generations/{generation.pk}/", **ZH).content.decode()
    en = alice_client.get(
        f"/generations/{generation.pk}/", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "2026年3月7日 09:05:04" in zh
    assert "2026-03-07 09:05:04" in en
    # naturaltime: "… ago" in English, "…前" in Chinese.
    Generation.objects.filter(pk=generation.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )
    zh = alice_client.get("/", **ZH).content.decode()
    en = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">3分钟之前</time>" in zh
    assert "3\xa0minutes ago" in en or "3 minutes ago" in en


def test_plural_counts_use_the_languages_plural_forms(
    alice_client: Client, make_generation, user: User, other_user: User
) -> None:
    from review.models import Comment

    generation = make_generation(status="succeeded")
    Comment.post(generation, user, "warm light", None)
    en = alice_client.get("/history/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 comment<" in en
    Comment.post(generation, other_user, "too dark", None)
    en = alice_client.get("/history/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    zh = alice_client.get("/history/", **ZH).content.decode()
    assert "2 comments<" in en and "2 条评论<" in zh


def test_the_openai_route_stays_english_too(user: User) -> None:
    _key, secret = issue(user)
    answer = Client().post(
        "/v1/videos",
        {"prompt": "", "model": "kling-v1"},
        content_type="application/json",
        **bearer(secret),
        **ZH,
    )
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert message.isascii(), message


# ---- the translation files ---------------------------------------------------------------------
LOCALE = Path(__file__).resolve().parent.parent / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def po_entries(text: str) -> list[dict[str, Any]]:
    """The entries of a .po file: flags, msgctxt, msgid, msgid_plural and the msgstr(s)."""
    entries = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, Any] = {"flags": "", "msgstr": []}
        current = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif match := re.match(
                r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$', line
            ):
                current = match.group(1)
                value = json.loads(match.group(2))
                if current.startswith("msgstr"):
                    entry["msgstr"].append(value)
                else:
                    entry[current] = value
            elif line.startswith('"'):  # a continuation of the field above
                value = json.loads(line)
                if current and current.startswith("msgstr"):
                    entry["msgstr"][-1] += value
                elif current:
                    entry[current] += value
        entries.append(entry)
    return [e for e in entries if e.get("msgid")]  # the header has an empty msgid


def msgid_keys(path: Path) -> set[tuple[str | None, str, str | None]]:
    entries = po_entries(path.read_text(encoding="utf-8"))
    return {(e.get("msgctxt"), e["msgid"], e.get("msgid_plural")) for e in entries}


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = po_entries(PO.read_text(encoding="utf-8"))
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"]) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"untranslated in {PO}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy (unchecked) in {PO}: {fuzzy[:10]}"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    """The committed .mo is what the studio loads: a .po edited without compilemessages fails."""
    with MO.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    stale = []
    for entry in po_entries(PO.read_text(encoding="utf-8")):
        key = (
            entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        )
        if "msgid_plural" in entry:
            compiled = [catalog.get((key, n)) for n in range(len(entry["msgstr"]))]
        else:
            compiled = [catalog.get(key)]
        if compiled != entry["msgstr"]:
            stale.append(entry["msgid"])
    assert not stale, f"{MO} is older than {PO} for: {stale[:10]} (run manage.py compilemessages)"


def test_placeholders_survive_translation() -> None:
    """A translation that drops or renames %(name)s would fail at runtime, in Chinese only."""
    for entry in po_entries(PO.read_text(encoding="utf-8")):
        wanted = sorted(set(re.findall(r"%\(\w+\)[sd]|\{\w*\}", entry["msgid"])))
        for translated in entry["msgstr"]:
            got = sorted(set(re.findall(r"%\(\w+\)[sd]|\{\w*\}", translated)))
            assert got == wanted, (entry["msgid"], translated)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext is not installed")
def test_makemessages_would_find_nothing_new(tmp_path: Path) -> None:
    """Every wrapped string of the code is in the .po, and nothing stale is left there.

    Run on a copy of the checkout, so the real locale/ is not rewritten.
    """
    root = Path(__file__).resolve().parent.parent
    copy = tmp_path / "studio"
    ignore = shutil.ignore_patterns(".venv", "media", "staticfiles", "__pycache__", ".git", "*.mo")
    for name in ("manage.py",):
        copy.mkdir(exist_ok=True)
        shutil.copy(root / name, copy / name)
    for name in ("studio", "videos", "api", "review", "simulator", "templates", "locale"):
        shutil.copytree(root / name, copy / name, ignore=ignore)
    env = {**os.environ, "STUDIO_READ_ENV_FILE": "0", "SECRET_KEY": "makemessages-check"}
    env["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "-v0"],
        cwd=copy, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    fresh = msgid_keys(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    committed = msgid_keys(PO)
    assert not fresh - committed, (
        f"new messages, run makemessages: {sorted(fresh - committed, key=str)[:10]}"
    )
    assert not committed - fresh, f"stale messages: {sorted(committed - fresh, key=str)[:10]}"


def test_a_language_chosen_on_the_login_page_becomes_the_users(client: Client, user: User) -> None:
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    answer = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert answer.status_code == 302
    assert UserPreference.language_of(user) == "zh-hans"
    elsewhere = Client()
    elsewhere.force_login(user)
    assert html_lang(elsewhere.get("/")) == "zh-hans"


def test_a_gallery_poll_answers_in_the_page_language(alice_client: Client, make_generation) -> None:
    pending = make_generation()
    html = alice_client.get(
        f"/?watch={pending.pk}&newest={pending.pk}",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gallery-poll",
        **ZH,
    ).content.decode()
    assert '<span class="status badge status-queued">排队中</span>' in html
    assert "个运行中" in html  # the running badge, swapped out of band
