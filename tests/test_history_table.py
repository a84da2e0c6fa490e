"""The history table's cells: a star is a star, a rating is a score, and the page size shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from review.models import Rating, Star
from videos.models import Generation

pytestmark = pytest.mark.django_db
RATE_BUTTON = re.compile(
    r'<button type="submit" name="value" value="(\d)" class="rate[^"]*"'
    r' aria-pressed="(\w+)" aria-label="([^"]+)">(\d)</button>'
)


def cell(html: str, css_class: str) -> str:
    """The first <td> of a history row with this class."""
    found = re.search(rf'<td class="{css_class}">(.*?)</td>', html, re.S)
    assert found, f"no {css_class} cell"
    return found.group(1)


@pytest.fixture
def judged(make_generation: Any, user: User, other_user: User) -> Generation:
    generation = make_generation(id=77, prompt="a paper boat")
    Star.toggle(user, generation)
    Rating.set(user, generation, 4)
    Rating.set(other_user, generation, 2)
    return generation


def test_the_star_is_a_star_and_says_what_it_does(alice_client: Client, judged: Generation) -> None:
    html = alice_client.get("/history/").content.decode()
    pick = cell(html, "pick")
    assert 'aria-pressed="true"' in pick and 'aria-label="Unstar #77"' in pick and "★" in pick
    bob = Client()
    bob.force_login(User.objects.get(username="bob"))
    pick = cell(bob.get("/history/").content.decode(), "pick")  # bob did not star it
    assert 'aria-pressed="false"' in pick and 'aria-label="Star #77"' in pick and "☆" in pick


def test_the_rating_is_a_score_not_stars(alice_client: Client, judged: Generation) -> None:
    html = alice_client.get("/history/").content.decode()
    rating = cell(html, "rating-cell")
    assert "3.0/5" in rating and "★" not in rating and "☆" not in rating
    assert '<span class="visually-hidden">team rating 3.0 of 5 from 2 ratings</span>' in rating


def test_the_judging_panel_rates_with_numbers_and_stars_with_a_star(
    alice_client: Client, judged: Generation
) -> None:
    html = alice_client.get(f"/review/{judged.pk}/").content.decode()
    rates = re.findall(RATE_BUTTON, html)
    assert [(v, text) for v, _, _, text in rates] == [(str(n), str(n)) for n in range(1, 6)]
    assert [pressed for _, pressed, _, _ in rates] == ["false", "false", "false", "true", "false"]
    assert rates[3][2] == "Rate 4 of 5 (your rating)"
    assert html.count("★") == 1 and "★ Starred" in html  # the star toggle, nothing else


def test_the_page_size_select_shows_the_size_in_use(alice_client: Client) -> None:
    html = alice_client.get("/history/").content.decode()
    assert '<option value="25" selected>25</option>' in html
    html = alice_client.get("/history/", {"per": "50"}).content.decode()
    assert '<option value="50" selected>50</option>' in html
