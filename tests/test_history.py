"""History: search, every filter (combined), keyset pages, query counts, saved searches, htmx."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from review import search
from review.models import Comment, Rating, SavedSearch, Star, Tagging
from tests.api_helpers import issue
from videos.models import Generation

pytestmark = pytest.mark.django_db
HISTORY = "/history/"


def ids_in(html: str) -> list[int]:
    """The generation ids of the history rows, in page order."""
    return [int(pk) for pk in re.findall(r'class="history-row" id="row-(\d+)"', html)]


@pytest.fixture
def many(make_generation: Any) -> list[Generation]:
    """30 generations with ids 1000..1029 (newest = highest id)."""
    return [make_generation(id=1000 + n, prompt=f"clip number {n}") for n in range(30)]


def test_it_lists_team_generations_newest_first(
    alice_client: Client, make_generation: Any, other_user: User
) -> None:
    make_generation(id=10, prompt="alice old fox")
    make_generation(id=20, prompt="bob new owl", owner=other_user)
    html = alice_client.get(HISTORY).content.decode()
    assert ids_in(html) == [20, 10]
    assert "bob new owl" in html and "alice old fox" in html


def test_it_requires_login(client: Client) -> None:
    response = client.get(HISTORY)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_only_mine_when_asked(
    alice_client: Client, make_generation: Any, other_user: User
) -> None:
    make_generation(id=10, prompt="mine")
    make_generation(id=20, prompt="theirs", owner=other_user)
    assert ids_in(alice_client.get(HISTORY, {"mine": "on"}).content.decode()) == [10]


def test_it_searches_prompt_negative_prompt_tags_and_comments(
    alice_client: Client, make_generation: Any, user: User
) -> None:
    by_prompt = make_generation(id=1, prompt="a crimson lighthouse at dusk")
    by_negative = make_generation(id=2, prompt="x", negative_prompt="no lighthouses please")
    by_tag = make_generation(id=3, prompt="y")
    by_comment = make_generation(id=4, prompt="z")
    make_generation(id=5, prompt="unrelated meadow")
    Tagging.add(by_tag, "Lighthouse Shots", user)
    Comment.post(by_comment, user, "the lighthouse flickers at 2s", 2.0)
    html = alice_client.get(HISTORY, {"q": "lighthouse"}).content.decode()
    assert ids_in(html) == [by_comment.pk, by_tag.pk, by_negative.pk, by_prompt.pk]
    # Every word must match; words match as prefixes.
    assert ids_in(alice_client.get(HISTORY, {"q": "crim dusk"}).content.decode()) == [1]
    assert ids_in(alice_client.get(HISTORY, {"q": "crimson meadow"}).content.decode()) == []


def test_it_ignores_search_operators_in_user_input(
    alice_client: Client, make_generation: Any
) -> None:
    make_generation(id=1, prompt='say "hello" OR NOT world')
    response = alice_client.get(HISTORY, {"q": '"hello" OR NOT ) *( -'})
    assert response.status_code == 200
    assert ids_in(response.content.decode()) == [1]


def test_it_forgets_removed_tags_and_comments_in_search(
    alice_client: Client, make_generation: Any, user: User
) -> None:
    generation = make_generation(id=1, prompt="plain")
    tagging = Tagging.add(generation, "zebra", user)
    comment = Comment.post(generation, user, "quokka", None)
    assert ids_in(alice_client.get(HISTORY, {"q": "zebra quokka"}).content.decode()) == [1]
    tagging.remove()
    comment.remove()
    assert ids_in(alice_client.get(HISTORY, {"q": "zebra"}).content.decode()) == []
    assert ids_in(alice_client.get(HISTORY, {"q": "quokka"}).content.decode()) == []


def test_it_indexes_generations_whatever_creates_them(make_generation: Any) -> None:
    Generation.objects.bulk_create(
        [Generation(id=77, owner_id=make_generation().owner_id, prompt="bulk narwhal")]
    )
    assert list(
        search.search(Generation.objects.all(), "narwhal").values_list("pk", flat=True)
    ) == [77]
    Generation.objects.filter(pk=77).update(prompt="renamed walrus")
    assert list(search.search(Generation.objects.all(), "walrus").values_list("pk", flat=True)) == [
        77
    ]
    Generation.objects.filter(pk=77).delete()
    assert not search.search(Generation.objects.all(), "walrus").exists()


CHINESE = "一只小猫在花园里玩耍，阳光明媚"


def found(q: str) -> list[int]:
    """Ids search.search finds for q over every generation, newest first."""
    return list(search.search(Generation.objects.all(), q).values_list("pk", flat=True))


def test_it_finds_chinese_words_inside_chinese_text(
    alice_client: Client, make_generation: Any
) -> None:
    make_generation(id=1, prompt=CHINESE)
    make_generation(id=2, prompt="一只小狗在草地上睡觉")
    make_generation(id=3, prompt="a fox at dawn 小猫 watching")
    html = alice_client.get(HISTORY, {"q": "小猫"}).content.decode()
    assert ids_in(html) == [3, 1]
    assert found("花园") == [1]
    assert found("猫") == [3, 1]  # one character is a word too
    assert found("园里") == [1]  # any run of characters, even across two words
    assert found("一只") == [2, 1]
    assert found("阳光明媚") == [1]
    assert found(CHINESE) == [1]  # the whole clause still matches
    assert found("小猫 阳光") == [1]  # every word must match
    assert found("猫小") == []  # a CJK word's characters match in order
    assert found("小狗 花园") == []
    assert found("fox 小猫") == [3]  # Latin prefixes and CJK words together
    assert found("watch") == [3]


def test_it_finds_chinese_in_tags_comments_and_negative_prompts(
    alice_client: Client, make_generation: Any, user: User
) -> None:
    by_negative = make_generation(id=1, prompt="x", negative_prompt="画面模糊，人物变形")
    by_tag = make_generation(id=2, prompt="y")
    by_comment = make_generation(id=3, prompt="z")
    Tagging.add(by_tag, "宠物视频", user)
    Comment.post(by_comment, user, "第三秒小猫的尾巴闪烁", 3.0)
    assert found("模糊") == [by_negative.pk]
    assert found("宠物") == [by_tag.pk]
    assert found("尾巴") == [by_comment.pk]
    assert ids_in(alice_client.get(HISTORY, {"q": "视频"}).content.decode()) == [by_tag.pk]


def test_it_splits_chinese_whatever_writes_the_prompt(make_generation: Any) -> None:
    owner_id = make_generation().owner_id
    Generation.objects.bulk_create([Generation(id=77, owner_id=owner_id, prompt=CHINESE)])
    assert found("花园") == [77]
    Generation.objects.filter(pk=77).update(prompt="雪山上的红色狐狸")
    assert found("狐狸") == [77]
    assert found("花园") == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_splits_chinese_prompts_indexed_before_it(make_generation: Any) -> None:
    call_command("migrate", "review", "0002_search_index", verbosity=0)
    try:
        make_generation(id=5, prompt=CHINESE)
        assert found("花园") == []  # the old index holds the clause as one word
        call_command("migrate", "review", verbosity=0)
        assert found("花园") == [5]
    finally:
        call_command("migrate", verbosity=0)


def test_it_combines_every_filter(
    alice_client: Client, make_generation: Any, user: User, other_user: User
) -> None:
    key, _ = issue(user, "ci")
    match = dict(
        prompt="golden retriever surfing", model_name="kling-v1-6", kind="image2video",
        status="succeeded", mode="pro", duration=10, aspect_ratio="9:16", api_key=key,
    )  # fmt: skip
    target = make_generation(id=500, **match)
    Star.toggle(user, target)
    Rating.set(user, target, 5)
    Rating.set(other_user, target, 4)
    Tagging.add(target, "dogs", user)
    # One decoy per filter: equal to the target except for that one field.
    decoys = {
        "q": {"prompt": "golden cat surfing"},
        "model": {"model_name": "kling-v1"},
        "kind": {"kind": "text2video"},
        "status": {"status": "failed"},
        "mode": {"mode": "std"},
        "duration": {"duration": 5},
        "aspect_ratio": {"aspect_ratio": "16:9"},
        "source": {"api_key": None},
        "author": {"owner": other_user},
        "date_from": {"created_at": timezone.now() - timedelta(days=40)},
    }
    for n, (_, change) in enumerate(decoys.items()):
        decoy = make_generation(id=400 + n, **{**match, **change})
        Rating.set(user, decoy, 5)
        Tagging.add(decoy, "dogs", user)
        Star.toggle(user, decoy)
    unstarred = make_generation(id=450, **match)
    Rating.set(user, unstarred, 5)
    Tagging.add(unstarred, "dogs", user)
    low = make_generation(id=451, **match)
    Star.toggle(user, low)
    Rating.set(user, low, 2)
    Tagging.add(low, "dogs", user)
    untagged = make_generation(id=452, **match)
    Star.toggle(user, untagged)
    Rating.set(user, untagged, 5)
    today = timezone.localdate()
    params = {
        "q": "retriever", "model": "kling-v1-6", "kind": "image2video", "status": "succeeded",
        "mode": "pro", "duration": "10", "aspect_ratio": "9:16", "source": f"key-{key.pk}",
        "author": "alice", "date_from": str(today - timedelta(days=1)), "date_to": str(today),
        "starred": "on", "rating": "4", "tag": "dogs",
    }  # fmt: skip
    assert ids_in(alice_client.get(HISTORY, params).content.decode()) == [500]
    # Without the search words, each decoy except the prompt one is still filtered out.
    params.pop("q")
    assert ids_in(alice_client.get(HISTORY, params).content.decode()) == [500, 400]


@pytest.mark.parametrize(
    ("source", "expected"), [("web", [1]), ("api", [3, 2]), ("key-first", [2])]
)
def test_it_filters_by_api_key_or_web(
    alice_client: Client, make_generation: Any, user: User, source: str, expected: list[int]
) -> None:
    first, second = issue(user, "first")[0], issue(user, "second")[0]
    make_generation(id=1)
    make_generation(id=2, api_key=first)
    make_generation(id=3, api_key=second)
    value = f"key-{first.pk}" if source == "key-first" else source
    assert ids_in(alice_client.get(HISTORY, {"source": value}).content.decode()) == expected


def test_it_filters_by_date_range(alice_client: Client, make_generation: Any) -> None:
    now = timezone.now()
    make_generation(id=1, created_at=now - timedelta(days=10))
    make_generation(id=2, created_at=now - timedelta(days=3))
    make_generation(id=3, created_at=now)
    today = timezone.localdate()
    params = {
        "date_from": str(today - timedelta(days=4)),
        "date_to": str(today - timedelta(days=1)),
    }
    assert ids_in(alice_client.get(HISTORY, params).content.decode()) == [2]


def test_it_rejects_invalid_filters_with_a_message(
    alice_client: Client, make_generation: Any
) -> None:
    make_generation(id=1)
    today = timezone.localdate()
    html = alice_client.get(
        HISTORY,
        {"date_from": str(today), "date_to": str(today - timedelta(days=2)), "status": "bogus"},
    ).content.decode()
    assert "The end date is before the start date." in html
    assert "Select a valid choice" in html
    assert ids_in(html) == []


def test_it_pages_with_a_keyset_cursor(alice_client: Client, many: list[Generation]) -> None:
    first = alice_client.get(HISTORY, {"per": "10"}).content.decode()
    assert ids_in(first) == list(range(1029, 1019, -1))
    assert "before=1020" in first
    second = alice_client.get(HISTORY, {"per": "10", "before": "1020"}).content.decode()
    assert ids_in(second) == list(range(1019, 1009, -1))
    last = alice_client.get(HISTORY, {"per": "10", "before": "1010"}).content.decode()
    assert ids_in(last) == list(range(1009, 999, -1))
    # Exactly a full last page: no "older" link pointing at an empty page.
    assert 'id="history-more"' not in last
    assert ids_in(alice_client.get(HISTORY, {"per": "10", "before": "1000"}).content.decode()) == []


def test_it_pages_search_results_with_the_same_cursor(
    alice_client: Client, make_generation: Any
) -> None:
    for n in range(12):
        make_generation(id=100 + n, prompt="koala" if n % 2 else "wombat")
    page = alice_client.get(HISTORY, {"q": "koala", "per": "10", "before": "108"}).content.decode()
    assert ids_in(page) == [107, 105, 103, 101]


def test_it_pages_a_search_without_words_like_no_search(many: list[Generation]) -> None:
    # Only punctuation: no words to match, so every generation, newest first, from the cursor.
    found = search.search(Generation.objects.order_by("pk"), "?! *", before=1005)
    assert list(found.values_list("pk", flat=True)) == [1004, 1003, 1002, 1001, 1000]


def test_it_appends_rows_for_htmx_load_more(alice_client: Client, many: list[Generation]) -> None:
    response = alice_client.get(
        HISTORY, {"per": "10", "before": "1020"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert ids_in(html) == list(range(1019, 1009, -1))
    assert "<html" not in html and 'id="history-results"' not in html
    assert 'id="history-more"' in html and "before=1010" in html


def test_it_returns_the_results_partial_for_htmx_filters(
    alice_client: Client, many: list[Generation]
) -> None:
    response = alice_client.get(HISTORY, {"q": "number 7"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="history-results"')
    assert ids_in(html) == [1007]
    assert "HX-Request" in response["Vary"]


def test_it_returns_the_full_page_when_htmx_restores_history(
    alice_client: Client, many: list[Generation]
) -> None:
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    html = alice_client.get(HISTORY, {"per": "10"}, headers=headers).content.decode()
    assert "<html" in html and 'id="history-filters"' in html


def test_it_keeps_filters_in_the_url_of_exports_and_next_page(
    alice_client: Client, many: list[Generation]
) -> None:
    html = alice_client.get(
        HISTORY, {"q": "clip", "per": "10", "status": "queued"}
    ).content.decode()
    assert "/history/export.csv?q=clip&amp;per=10&amp;status=queued" in html
    assert "q=clip&amp;per=10&amp;status=queued&amp;before=1020" in html
    assert 'hx-push-url="true"' in html


@pytest.mark.parametrize("per", [10, 50, 100])
def test_it_uses_a_constant_number_of_queries_whatever_the_page_size(
    alice_client: Client, make_generation: Any, user: User, other_user: User, per: int
) -> None:
    key, _ = issue(other_user, "ci")
    for n in range(110):
        g = make_generation(
            id=1 + n, owner=other_user if n % 2 else user, api_key=key if n % 3 else None
        )
        if n % 4 == 0:
            Tagging.add(g, f"tag{n % 8}", user)
            Rating.set(user, g, 3)
            Star.toggle(user, g)
            Comment.post(g, user, "nice", None)
    alice_client.get(HISTORY)  # warm the session
    with CaptureQueriesContext(connection) as plain:
        html = alice_client.get(HISTORY, {"per": per}).content.decode()
    assert len(ids_in(html)) == per
    with CaptureQueriesContext(connection) as searched:
        alice_client.get(HISTORY, {"per": per, "q": "fox", "tag": "tag0"})
    assert len(plain) == EXPECTED_QUERIES, "\n".join(q["sql"][:100] for q in plain.captured_queries)
    assert len(searched) == EXPECTED_QUERIES


# session, user, model choices, key choices, the page, its tags, author choices, project
# choices, saved searches, and the running-jobs badge every page shows
EXPECTED_QUERIES = 10


def test_it_saves_and_lists_searches_per_user(
    alice_client: Client, bob_client: Client, user: User
) -> None:
    response = alice_client.post(
        "/history/saved/", {"name": "failed pro", "query": "status=failed&mode=pro&before=123"}
    )
    saved = SavedSearch.objects.get(owner=user)
    assert saved.query == "status=failed&mode=pro"
    assert response["Location"] == "/history/?status=failed&mode=pro"
    assert "failed pro" in alice_client.get(HISTORY).content.decode()
    assert "failed pro" not in bob_client.get(HISTORY).content.decode()


def test_it_refuses_a_duplicate_or_blank_saved_search_name(
    alice_client: Client, user: User
) -> None:
    alice_client.post("/history/saved/", {"name": "mine", "query": "mine=on"})
    alice_client.post("/history/saved/", {"name": "mine", "query": "status=failed"})
    alice_client.post("/history/saved/", {"name": "", "query": "status=failed"})
    assert list(SavedSearch.objects.values_list("name", "query")) == [("mine", "mine=on")]


def test_it_lets_only_the_owner_delete_a_saved_search(
    alice_client: Client, bob_client: Client, user: User
) -> None:
    saved = SavedSearch.objects.create(owner=user, name="x", query="q=x")
    assert bob_client.post(f"/history/saved/{saved.pk}/delete/").status_code == 404
    assert SavedSearch.objects.filter(pk=saved.pk).exists()
    alice_client.post(f"/history/saved/{saved.pk}/delete/")
    assert not SavedSearch.objects.exists()


def test_it_refuses_post_on_the_history(alice_client: Client) -> None:
    assert alice_client.post(HISTORY).status_code == 405
