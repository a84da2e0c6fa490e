"""History search on PostgreSQL (review/search.py's tsvector engine): prompts, tags, comments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client

from review.models import Comment, Tagging

pytestmark = [
    pytest.mark.scale,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="scale mode: the test database is not PostgreSQL (set DATABASE_URL)",
    ),
    pytest.mark.django_db,
]
HISTORY = "/history/"


def ids_in(client: Client, q: str) -> list[int]:
    html = client.get(HISTORY, {"q": q}).content.decode()
    return [int(pk) for pk in re.findall(r'class="history-row" id="row-(\d+)"', html)]


def test_it_uses_the_postgresql_engine() -> None:
    from review import search

    assert type(search.backend()).__name__ == "PostgresSearch"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('review_search')::text")
        assert cursor.fetchone() == ("review_search",)


def test_it_finds_a_generation_by_a_prompt_word_a_tag_and_a_comment(
    alice_client: Client, make_generation: Any, user: User
) -> None:
    target = make_generation(prompt="a copper zeppelin over the harbour")
    make_generation(prompt="an unrelated meadow")
    Tagging.add(target, "Airship Study", user)
    Comment.post(target, user, "the propellers stutter at 3s", 3.0)
    assert ids_in(alice_client, "zeppelin") == [target.pk]
    assert ids_in(alice_client, "airship") == [target.pk]  # a tag
    assert ids_in(alice_client, "propellers") == [target.pk]  # a comment
    assert ids_in(alice_client, "zep harb") == [target.pk]  # every word, as a prefix
    assert ids_in(alice_client, "zeppelin meadow") == []


@pytest.mark.django_db(transaction=True)
def test_it_forgets_a_deleted_generation_and_survives_a_flush(make_generation: Any) -> None:
    gone = make_generation(prompt="a vanishing lantern")
    gone.delete_with_files()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM review_search WHERE generation_id = %s", [gone.pk])
        assert cursor.fetchone() == (0,)
    # Django's flush truncates videos_generation: the index must not block it (no FK).
    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM review_search")
        assert cursor.fetchone() == (0,)


def test_it_finds_chinese_words_inside_chinese_text(
    alice_client: Client, make_generation: Any, user: User
) -> None:
    cat = make_generation(prompt="一只小猫在花园里玩耍，阳光明媚")
    dog = make_generation(prompt="一只小狗在草地上睡觉", negative_prompt="画面模糊")
    mixed = make_generation(prompt="a fox at dawn 小猫 watching")
    Comment.post(dog, user, "第三秒尾巴闪烁", 3.0)
    assert ids_in(alice_client, "小猫") == [mixed.pk, cat.pk]
    assert ids_in(alice_client, "花园") == [cat.pk]
    assert ids_in(alice_client, "猫") == [mixed.pk, cat.pk]  # one character is a word too
    assert ids_in(alice_client, "园里") == [cat.pk]  # any run of characters
    assert ids_in(alice_client, "一只") == [dog.pk, cat.pk]
    assert ids_in(alice_client, "猫小") == []  # in order
    assert ids_in(alice_client, "小猫 阳光") == [cat.pk]
    assert ids_in(alice_client, "模糊 尾巴") == [dog.pk]  # negative prompt and comment
    assert ids_in(alice_client, "fox 小猫") == [mixed.pk]
    assert ids_in(alice_client, "watch") == [mixed.pk]


def test_its_sql_split_matches_the_python_one_used_for_queries() -> None:
    from review import search

    # One character from each end of every range, and neighbours outside them.
    edges = "".join(
        chr(n) for low, high in search.CJK_RANGES for n in (low - 1, low, high, high + 1)
    )
    text = f"Ab {edges} 한국어 x々y"
    with connection.cursor() as cursor:
        cursor.execute("SELECT review_split_cjk(%s)", [text])
        assert cursor.fetchone() == (search.split_cjk(text),)
    assert search.split_cjk("小猫a") == " 小  猫 a"
