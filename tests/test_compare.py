"""Compare 2-4 generations (synchronised players, parameter diff) and the lineage view."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from review.diff import WordOp, compare, word_diff

pytestmark = pytest.mark.django_db


def test_it_diffs_prompts_word_by_word() -> None:
    ops = word_diff("a red fox runs in snow", "a silver fox runs fast in snow")
    assert ops == [
        WordOp("equal", "a"),
        WordOp("delete", "red"),
        WordOp("insert", "silver"),
        WordOp("equal", "fox runs"),
        WordOp("insert", "fast"),
        WordOp("equal", "in snow"),
    ]


def test_it_marks_only_the_fields_that_differ(make_generation: Any, other_user: User) -> None:
    base = make_generation(
        id=1, mode="std", duration=5, camera_control={"type": "simple", "config": {"zoom": 5}}
    )
    other = make_generation(
        id=2,
        mode="pro",
        duration=5,
        owner=other_user,
        camera_control={"type": "simple", "config": {"zoom": 5}},
    )
    rows = {row.label: row for row in compare([base, other]).rows}
    assert rows["Mode"].differs and rows["Mode"].values == ["std", "pro"]
    assert rows["Author"].differs and rows["Author"].values == ["alice", "bob"]
    assert not rows["Duration (s)"].differs and not rows["Camera"].differs
    assert rows["Camera"].values[0] == '{"config": {"zoom": 5}, "type": "simple"}'


def test_it_shows_two_to_four_generations_side_by_side(
    alice_client: Client, make_generation: Any
) -> None:
    make_generation(
        id=1, prompt="a red fox in snow", status="succeeded", video="videos/1/video.mp4"
    )
    make_generation(id=2, prompt="a silver fox in snow", mode="pro")
    make_generation(id=3, prompt="a red fox in rain")
    html = alice_client.get("/compare/", {"ids": ["1", "2", "3"]}).content.decode()
    assert html.count('class="compare-cell card"') == 3
    assert 'src="/generations/1/media/video/"' in html
    assert "data-sync-group" in html and "js/review.js" in html
    assert "<del>red</del>" in html and "<ins>silver</ins>" in html and "<ins>rain</ins>" in html
    mode_row = re.search(r'<tr class="(\w+)"><th>Mode</th>', html)
    model_row = re.search(r'<tr class="(\w+)"><th>Model</th>', html)
    assert mode_row and mode_row.group(1) == "differs"
    assert model_row and model_row.group(1) == "same"


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["1"], "Select at least 2 generations to compare."),
        (["1", "2", "3", "4", "5"], "Compare shows at most 4 generations; 5 were selected."),
        (["1", "999"], "No such generation: 999."),
        (["1", "x"], "“x” is not a generation id."),
        (["1", "99999999999999999999999"], "“99999999999999999999999” is not a generation id."),
        (["1", "18446744073709551616"], "“18446744073709551616” is not a generation id."),
        (["1", "-2"], "“-2” is not a generation id."),
        (["1", "9" * 5000], f"“{'9' * 30}” is not a generation id."),  # past int()'s digit cap
        (["1", "²"], "“²” is not a generation id."),  # str.isdigit() says yes; int() says no
        (["1", "١"], "“١” is not a generation id."),  # int() reads Arabic-Indic 1 as 1
    ],
)
def test_it_explains_a_bad_selection(
    alice_client: Client, make_generation: Any, ids: list[str], message: str
) -> None:
    for pk in range(1, 6):
        make_generation(id=pk)
    response = alice_client.get("/compare/", {"ids": ids})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "compare-cell" not in html


@pytest.mark.parametrize("count", [2, 3, 4])
def test_it_sets_the_column_count_with_a_class_the_csp_allows(
    alice_client: Client, make_generation: Any, count: int
) -> None:
    ids = [str(make_generation().pk) for _ in range(count)]
    response = alice_client.get("/compare/", {"ids": ids})
    html = response.content.decode()
    assert f'<div class="compare-grid cols-{count}">' in html
    # The studio's CSP has no 'unsafe-inline' for styles: a style attribute is ignored.
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert " style=" not in html


def test_it_needs_a_login_to_compare(client: Client, make_generation: Any) -> None:
    make_generation(id=1)
    make_generation(id=2)
    response = client.get("/compare/", {"ids": ["1", "2"]})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_shows_lineage_with_parent_children_and_diff(
    alice_client: Client, make_generation: Any
) -> None:
    root = make_generation(id=1, prompt="a fox")
    parent = make_generation(id=2, prompt="a red fox", parent=root)
    child = make_generation(id=3, prompt="a red fox at night", parent=parent, duration=10)
    make_generation(id=4, prompt="a red fox at dawn", parent=child)
    make_generation(id=5, prompt="another remix", parent=child)
    html = alice_client.get(f"/review/{child.pk}/lineage/").content.decode()
    chain = html[html.index('class="lineage-chain"') :]
    assert (
        chain.index('href="/generations/1/"')
        < chain.index('href="/generations/2/"')
        < chain.index("<strong>#3</strong>")
    )
    assert 'href="/generations/5/"' in html and 'href="/generations/4/"' in html
    assert "<ins>at night</ins>" in html
    assert re.search(r'<tr class="differs"><th>Duration \(s\)</th><td>5</td><td>10</td>', html)
    assert f'href="/generations/{child.pk}/remix/"' in html


def test_it_says_when_there_is_no_parent(alice_client: Client, make_generation: Any) -> None:
    make_generation(id=1)
    html = alice_client.get("/review/1/lineage/").content.decode()
    assert "has no parent" in html and "No remixes yet." in html


def test_it_answers_404_for_an_unknown_lineage(alice_client: Client) -> None:
    assert alice_client.get("/review/12345/lineage/").status_code == 404


def test_a_hand_shared_comma_separated_link_compares_too(
    alice_client: Client, make_generation: Any
) -> None:
    first, second = make_generation(prompt="one red fox"), make_generation(prompt="two red foxes")
    html = alice_client.get(f"/compare/?ids={first.pk},{second.pk}").content.decode()
    assert "is not a generation id" not in html
    assert f'href="/generations/{first.pk}/">#{first.pk}</a>' in html
    assert f'href="/generations/{second.pk}/">#{second.pk}</a>' in html
