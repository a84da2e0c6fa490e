"""Prompt recipes: save a generation's parameters, start new jobs from them, see how they did."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client

from review.models import Rating, Recipe, RecipeRun
from tests.images import upload
from videos.models import Generation, VideoModel

pytestmark = pytest.mark.django_db

CONFIRM = {"confirm": "on"}  # a paid run is sent only once its cost is confirmed


def numbers(html: str) -> list[str]:
    """The numeric cells of a recipes table row, in order."""
    return re.findall(r'<td class="num">([^<]*)</td>', html)


@pytest.fixture
def source(make_generation: Any) -> Generation:
    return make_generation(
        id=700,
        prompt="a paper boat on a rainy street",
        negative_prompt="blur",
        model_name="kling-v1-6",
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
        cfg_scale=0.7,
        camera_control={
            "type": "simple",
            "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": 4},
        },
        status="succeeded",
    )


@pytest.fixture
def recipe(source: Generation, user: User) -> Recipe:
    return Recipe.from_generation(source, user, "rainy boat")


def test_it_saves_a_generation_as_a_named_recipe(alice_client: Client, source: Generation) -> None:
    response = alice_client.post(
        f"/review/{source.pk}/recipe/", {"name": "rainy boat", "notes": "works in pro"}
    )
    assert response["Location"] == "/recipes/"
    recipe = Recipe.objects.get()
    assert (recipe.name, recipe.notes, recipe.owner.username, recipe.source_id) == (
        "rainy boat",
        "works in pro",
        "alice",
        700,
    )
    assert recipe.parameters["prompt"] == "a paper boat on a rainy street"
    assert recipe.parameters["camera_control"]["config"]["zoom"] == 4
    assert (
        recipe.parameters["mode"],
        recipe.parameters["duration"],
        recipe.parameters["cfg_scale"],
    ) == ("pro", 10, 0.7)


def test_it_requires_a_recipe_name(alice_client: Client, source: Generation) -> None:
    response = alice_client.post(f"/review/{source.pk}/recipe/", {"name": ""})
    assert response["Location"] == f"/generations/{source.pk}/"
    assert not Recipe.objects.exists()


def test_it_starts_a_new_job_from_a_recipe(bob_client: Client, recipe: Recipe) -> None:
    response = bob_client.post(f"/recipes/{recipe.pk}/run/", CONFIRM)
    generation = Generation.objects.exclude(pk=700).get()
    assert response["Location"] == f"/generations/{generation.pk}/"
    assert generation.owner.username == "bob" and generation.status == "queued"
    assert generation.parameters() == Generation.objects.get(pk=700).parameters()
    assert generation.extra == {"recipe": recipe.pk}
    assert RecipeRun.objects.get().generation == generation


def test_it_explains_when_a_recipe_can_no_longer_run(alice_client: Client, recipe: Recipe) -> None:
    VideoModel.objects.filter(name="kling-v1-6").update(enabled=False)
    response = alice_client.post(f"/recipes/{recipe.pk}/run/", CONFIRM, follow=True)
    assert (
        "can no longer run" in response.content.decode()
        and "Unknown model" in response.content.decode()
    )
    assert Generation.objects.count() == 1


def test_it_links_to_the_create_form_prefilled(alice_client: Client, recipe: Recipe) -> None:
    html = alice_client.get("/recipes/").content.decode()
    table = html[html.index('class="recipes-table') :]
    link = re.search(r'href="/generations/new/\?([^"]+)"', table)
    assert link
    params = parse_qs(link.group(1).replace("&amp;", "&"))
    assert params["prompt"] == ["a paper boat on a rainy street"]
    assert params["model_name"] == ["kling-v1-6"] and params["camera_type"] == ["simple"]
    assert params["camera_zoom"] == ["4"] and params["duration"] == ["10"]


def test_it_shows_how_each_recipe_did(
    alice_client: Client, recipe: Recipe, make_generation: Any, user: User, other_user: User
) -> None:
    runs = [
        make_generation(id=801, status="succeeded", units=Decimal("3.50")),
        make_generation(id=802, status="succeeded", units=Decimal("3.50")),
        make_generation(id=803, status="failed"),
        make_generation(id=804, status="processing"),
    ]
    for run in runs:
        recipe.record_run(run)
    recipe.record_run(runs[0])  # a retried POST counts once
    Rating.set(user, runs[0], 5)
    Rating.set(other_user, runs[0], 4)
    Rating.set(user, runs[1], 3)
    Recipe.objects.create(owner=user, name="unused", parameters={})
    stats = Recipe.objects.with_stats().get(pk=recipe.pk)
    assert (stats.run_count, stats.failed_count, stats.finished_count) == (4, 1, 3)
    assert stats.units_total == Decimal("7") and stats.average_rating == 4.0
    assert stats.failure_rate() == Decimal("33")
    html = alice_client.get("/recipes/").content.decode()
    row = html[html.index(f'id="recipe-{recipe.pk}"') :]
    assert numbers(row)[:4] == ["4", "33 %", "4.0", "7.00"]
    unused = html[html.index("<strong>unused</strong>") :]
    assert numbers(unused)[:4] == ["0", "—", "—", "0.00"]


def test_it_lets_only_the_author_or_an_admin_delete_a_recipe(
    bob_client: Client, staff_client: Client, recipe: Recipe
) -> None:
    assert bob_client.post(f"/recipes/{recipe.pk}/delete/").status_code == 403
    assert Recipe.objects.exists()
    staff_client.post(f"/recipes/{recipe.pk}/delete/")
    assert not Recipe.objects.exists()


def test_it_needs_a_login_for_recipes(client: Client, recipe: Recipe) -> None:
    assert "/login/" in client.get("/recipes/")["Location"]
    assert "/login/" in client.post(f"/recipes/{recipe.pk}/run/", CONFIRM)["Location"]
    assert Generation.objects.count() == 1


@pytest.fixture
def framed_recipe(make_generation: Any, user: User) -> Recipe:
    """A recipe from an image2video generation whose first frame was uploaded (stored)."""
    source = make_generation(id=710, kind="image2video", model_name="kling-v1", prompt="a kite")
    source.image.save("image.jpg", upload(), save=True)
    return Recipe.from_generation(source, user, "kite")


def test_it_runs_a_recipe_with_its_stored_first_frame(
    bob_client: Client, framed_recipe: Recipe
) -> None:
    source = Generation.objects.get(pk=710)
    assert framed_recipe.parameters["image_file"] == source.image.name
    response = bob_client.post(f"/recipes/{framed_recipe.pk}/run/", CONFIRM)
    run = Generation.objects.exclude(pk=710).get()
    assert response["Location"] == f"/generations/{run.pk}/"
    assert run.kind == "image2video" and run.image.name != source.image.name
    with (
        default_storage.open(run.image.name) as copy,
        default_storage.open(source.image.name) as original,
    ):
        assert copy.read() == original.read()


def test_it_explains_a_recipe_whose_stored_frame_is_gone(
    alice_client: Client, framed_recipe: Recipe
) -> None:
    Generation.objects.get(pk=710).delete_with_files()
    response = alice_client.post(f"/recipes/{framed_recipe.pk}/run/", CONFIRM, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/recipes/", 302)]
    assert "can no longer run" in html and "first frame" in html
    assert not Generation.objects.exists()
