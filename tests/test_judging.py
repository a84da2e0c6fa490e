"""Judging: stars, ratings with the team average, shared tags, comments pinned to a moment."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from review.models import Comment, Rating, Star, Tag, Tagging
from videos.models import Generation

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "HX-Target": "judging"}


@pytest.fixture
def generation(make_generation: Any) -> Generation:
    return make_generation(id=4242, prompt="a lantern festival")


@pytest.fixture
def carol_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_user("carol", password="pw-carol-123"))
    return client


def test_it_stars_and_unstars_per_user(
    alice_client: Client, generation: Generation, user: User, other_user: User
) -> None:
    html = alice_client.post(f"/review/{generation.pk}/star/", headers=HTMX).content.decode()
    assert "★ Starred" in html and html.lstrip().startswith('<section id="judging"')
    assert list(Star.objects.values_list("user__username", flat=True)) == ["alice"]
    html = alice_client.post(f"/review/{generation.pk}/star/", headers=HTMX).content.decode()
    assert "☆ Star" in html
    assert not Star.objects.exists()


def test_it_answers_a_history_row_star_with_the_button_only(
    alice_client: Client, generation: Generation
) -> None:
    headers = {"HX-Request": "true", "HX-Target": f"star-{generation.pk}"}
    html = alice_client.post(f"/review/{generation.pk}/star/", headers=headers).content.decode()
    assert html.startswith(f'<form method="post" action="/review/{generation.pk}/star/"')
    assert "★" in html and 'id="judging"' not in html


def test_it_redirects_to_the_detail_page_without_htmx(
    alice_client: Client, generation: Generation
) -> None:
    response = alice_client.post(f"/review/{generation.pk}/star/")
    assert response.status_code == 302 and response["Location"] == f"/generations/{generation.pk}/"


def test_it_rates_and_shows_the_team_average(
    alice_client: Client, bob_client: Client, generation: Generation
) -> None:
    bob_client.post(f"/review/{generation.pk}/rate/", {"value": "2"}, headers=HTMX)
    html = alice_client.post(
        f"/review/{generation.pk}/rate/", {"value": "5"}, headers=HTMX
    ).content.decode()
    assert "<strong>3.5</strong> / 5" in html and "(2 ratings)" in html
    # Alice's own five stars are lit.
    assert html.count('class="rate on"') == 5
    alice_client.post(f"/review/{generation.pk}/rate/", {"value": "4"}, headers=HTMX)
    assert sorted(Rating.objects.values_list("value", flat=True)) == [2, 4]
    html = alice_client.post(
        f"/review/{generation.pk}/rate/", {"value": ""}, headers=HTMX
    ).content.decode()
    assert list(Rating.objects.values_list("value", flat=True)) == [2]
    assert "<strong>2.0</strong> / 5" in html and "(1 rating)" in html
    assert 'class="rate on"' not in html  # Bob's rating is not Alice's


def test_it_loads_the_panel_in_a_fixed_number_of_queries(
    alice_client: Client, generation: Generation, user: User, other_user: User
) -> None:
    Rating.set(user, generation, 4)
    Rating.set(other_user, generation, 2)
    Tagging.add(generation, "dusk", other_user)
    Comment.post(generation, other_user, "warm light", 1.0)
    alice_client.get(f"/review/{generation.pk}/")  # warm the session
    with CaptureQueriesContext(connection) as queries:
        html = alice_client.get(f"/review/{generation.pk}/").content.decode()
    assert "<strong>3.0</strong> / 5" in html and html.count('class="rate on"') == 4
    # session, user, the generation, ratings (team and mine), taggings, comments, star
    assert len(queries) == 7, "\n".join(q["sql"][:100] for q in queries.captured_queries)


def test_it_ignores_an_out_of_range_rating(alice_client: Client, generation: Generation) -> None:
    response = alice_client.post(f"/review/{generation.pk}/rate/", {"value": "9"}, headers=HTMX)
    assert response.status_code == 200
    assert not Rating.objects.exists()
    assert "not rated yet" in response.content.decode()


def test_it_tags_with_a_shared_normalised_vocabulary(
    alice_client: Client, bob_client: Client, generation: Generation, make_generation: Any
) -> None:
    html = alice_client.post(
        f"/review/{generation.pk}/tags/", {"name": "  Slow Motion!"}, headers=HTMX
    ).content.decode()
    assert "#slow-motion" in html
    other = make_generation(id=99)
    bob_client.post(f"/review/{other.pk}/tags/", {"name": "slow motion"}, headers=HTMX)
    assert list(Tag.objects.values_list("name", flat=True)) == ["slow-motion"]
    assert Tagging.objects.count() == 2


def test_it_rejects_a_tag_without_letters(alice_client: Client, generation: Generation) -> None:
    response = alice_client.post(f"/review/{generation.pk}/tags/", {"name": "!!!"}, headers=HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx: the panel shows the error
    assert "A tag needs letters or digits." in response.content.decode()
    assert not Tag.objects.exists()


def test_it_explains_a_rejected_tag_on_the_detail_page_without_htmx(
    alice_client: Client, generation: Generation
) -> None:
    response = alice_client.post(f"/review/{generation.pk}/tags/", {"name": "!!!"}, follow=True)
    assert response.redirect_chain == [(f"/generations/{generation.pk}/", 302)]
    assert "A tag needs letters or digits." in response.content.decode()
    assert not Tag.objects.exists()


def test_it_suggests_tags_most_used_first(
    alice_client: Client, user: User, make_generation: Any
) -> None:
    first, second = make_generation(id=1), make_generation(id=2)
    Tagging.add(first, "night", user)
    Tagging.add(first, "neon", user)
    Tagging.add(second, "neon", user)
    Tagging.add(second, "ocean", user)
    html = alice_client.get("/review/tags/", {"name": "N"}).content.decode()
    assert html == '<option value="neon">2 uses</option><option value="night">1 use</option>'


def test_it_lets_the_tagger_the_owner_or_an_admin_remove_a_tag(
    alice_client: Client,
    bob_client: Client,
    carol_client: Client,
    staff_client: Client,
    generation: Generation,
    other_user: User,
) -> None:
    tagging = Tagging.add(generation, "keeper", other_user)  # bob tags alice's generation
    url = f"/review/{generation.pk}/tags/{tagging.tag_id}/remove/"
    assert carol_client.post(url, headers=HTMX).status_code == 403
    assert Tagging.objects.exists()
    for client in (bob_client, alice_client, staff_client):
        Tagging.add(generation, "keeper", other_user)
        html = client.post(url, headers=HTMX).content.decode()
        assert not Tagging.objects.exists() and "#keeper" not in html


def test_it_shows_remove_buttons_only_to_who_may_remove(
    carol_client: Client, bob_client: Client, generation: Generation, other_user: User
) -> None:
    Tagging.add(generation, "keeper", other_user)
    assert "remove tag keeper" in bob_client.get(f"/review/{generation.pk}/").content.decode()
    assert "remove tag keeper" not in carol_client.get(f"/review/{generation.pk}/").content.decode()


def test_it_pins_a_comment_to_a_moment_and_renders_a_seek_button(
    alice_client: Client, generation: Generation
) -> None:
    html = alice_client.post(
        f"/review/{generation.pk}/comments/",
        {"body": "the lanterns flicker here", "timecode": "73.25"},
        headers=HTMX,
    ).content.decode()
    comment = Comment.objects.get()
    assert comment.timecode == 73.25 and comment.author.username == "alice"
    assert 'data-seek="73.25"' in html and ">1:13.2<" in html
    html = alice_client.post(
        f"/review/{generation.pk}/comments/", {"body": "overall nice", "timecode": ""}, headers=HTMX
    ).content.decode()
    assert Comment.objects.filter(timecode__isnull=True).count() == 1
    assert html.count("data-seek=") == 1


def test_it_renders_comments_as_escaped_plain_text(
    alice_client: Client, generation: Generation
) -> None:
    body = "<script>alert(1)</script> **not bold**\nsecond line"
    html = alice_client.post(
        f"/review/{generation.pk}/comments/", {"body": body}, headers=HTMX
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **not bold**<br>second line" in html
    assert "<script>alert" not in html


def test_it_rejects_a_blank_comment_or_a_negative_time(
    alice_client: Client, generation: Generation
) -> None:
    html = alice_client.post(
        f"/review/{generation.pk}/comments/", {"body": "  ", "timecode": "-3"}, headers=HTMX
    ).content.decode()
    assert "This field is required." in html
    assert "greater than or equal to 0" in html
    assert not Comment.objects.exists()


def test_it_lets_only_the_author_or_an_admin_delete_a_comment(
    alice_client: Client,
    bob_client: Client,
    staff_client: Client,
    generation: Generation,
    user: User,
) -> None:
    comment = Comment.post(generation, user, "mine", None)
    # Not even the generation's owner may delete someone else's words.
    other = Comment.post(generation, User.objects.get(username="bob"), "bob's", None)
    assert (
        alice_client.post(f"/review/comments/{other.pk}/delete/", headers=HTMX).status_code == 403
    )
    assert (
        bob_client.post(f"/review/comments/{comment.pk}/delete/", headers=HTMX).status_code == 403
    )
    assert Comment.objects.count() == 2
    alice_client.post(f"/review/comments/{comment.pk}/delete/", headers=HTMX)
    staff_client.post(f"/review/comments/{other.pk}/delete/", headers=HTMX)
    assert not Comment.objects.exists()


def test_it_needs_a_login_for_every_judging_action(client: Client, generation: Generation) -> None:
    for url in (f"/review/{generation.pk}/star/", f"/review/{generation.pk}/comments/"):
        response = client.post(url, {"body": "x"})
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Star.objects.exists() and not Comment.objects.exists()


def test_it_answers_404_for_an_unknown_generation(alice_client: Client) -> None:
    assert alice_client.post("/review/1/star/", headers=HTMX).status_code == 404


def test_it_refuses_get_on_actions(alice_client: Client, generation: Generation) -> None:
    assert alice_client.get(f"/review/{generation.pk}/star/").status_code == 405


def test_it_shows_the_panel_on_the_generation_page(
    alice_client: Client, generation: Generation, user: User
) -> None:
    Comment.post(generation, user, "at the start", 1.5)
    Rating.set(user, generation, 4)
    html = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert 'id="judging"' in html and 'data-seek="1.50"' in html
    assert "<strong>4.0</strong> / 5" in html
    assert "js/review.js" in html


@pytest.mark.parametrize("model", ["tagging", "comment", "rating", "star"])
def test_the_admin_lists_judging_rows_without_a_query_per_row(
    staff_client: Client, make_generation: Any, user: User, other_user: User, model: str
) -> None:
    def listed() -> tuple[int, str]:
        staff_client.get(f"/admin/review/{model}/")  # warm the session and content types
        with CaptureQueriesContext(connection) as queries:
            html = staff_client.get(f"/admin/review/{model}/").content.decode()
        return len(queries), html

    def judge(n: int) -> None:
        generation = make_generation(prompt=f"judged clip {n}")
        Tagging.add(generation, f"tag{n}", other_user)
        Comment.post(generation, other_user, f"note {n}", None)
        Rating.set(user, generation, 3)
        Star.toggle(user, generation)

    judge(0)
    one, _ = listed()
    for n in range(1, 8):
        judge(n)
    many, html = listed()
    assert "judged clip 7" in html and "judged clip 0" in html
    assert many == one
