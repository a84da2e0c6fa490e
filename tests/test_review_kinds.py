"""The review tools know every kind: history filter and rows, compare, lineage, exports, recipes."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from review.models import Recipe, RecipeRun
from simulator.testing import disable_local_providers
from tests.images import upload
from videos.models import Generation, GenerationInput

pytestmark = pytest.mark.django_db

SHOTS = {
    "multi_shot": True,
    "shot_type": "customize",
    "multi_prompt": [
        {"index": 1, "prompt": "a door opens", "duration": "2"},
        {"index": 2, "prompt": "a cat walks in", "duration": "2"},
        {"index": 3, "prompt": "the cat sits", "duration": "1"},
    ],
}


@pytest.fixture
def effect(make_generation: Any) -> Generation:
    return make_generation(
        id=501,
        kind="effects",
        model_name="kling-effects",
        prompt="",
        params={"effect_scene": "bullet_time", "dual": False},
    )


@pytest.fixture
def storyboard(make_generation: Any) -> Generation:
    return make_generation(
        id=502, kind="text2video", model_name="kling-v3", sound=True, params=SHOTS, prompt="cat"
    )


@pytest.fixture
def plain(make_generation: Any) -> Generation:
    return make_generation(id=503, kind="image2video", prompt="a plain one")


# ---- history ------------------------------------------------------------------------------------
def test_history_filters_by_kind(alice_client: Client, effect, storyboard, plain) -> None:
    html = alice_client.get("/history/", {"kind": "effects"}).content.decode()
    assert "bullet_time" in html and "a plain one" not in html and "3 shots" not in html
    html = alice_client.get("/history/", {"kind": "image2video"}).content.decode()
    assert "a plain one" in html and "bullet_time" not in html


def test_an_unknown_kind_is_refused_next_to_the_field(alice_client: Client, effect) -> None:
    html = alice_client.get("/history/", {"kind": "teleport"}).content.decode()
    assert "Select a valid choice. teleport is not one of the available choices." in html
    assert "bullet_time" not in html


def test_history_rows_show_the_kind_and_its_key_params(
    alice_client: Client, effect, storyboard, plain
) -> None:
    html = alice_client.get("/history/").content.decode()
    assert 'data-kind="effects">Effect · scene bullet_time</div>' in html
    assert 'data-kind="text2video">Text to video · sound on · 3 shots</div>' in html
    assert 'data-kind="image2video">Image to video</div>' in html


def test_an_intelligence_storyboard_reads_as_such(make_generation: Any) -> None:
    generation = make_generation(params={"multi_shot": True, "shot_type": "intelligence"})
    assert generation.key_params() == {"shots": "intelligence"}
    assert make_generation(params={"multi_shot": False, "shot_type": "customize"}).shots() == ""


# ---- compare and lineage ------------------------------------------------------------------------
def test_compare_diffs_the_kind_and_its_key_params(
    alice_client: Client, effect, storyboard
) -> None:
    html = alice_client.get("/compare/", {"ids": "501,502"}).content.decode()
    for label, first, second in [
        ("Kind", "effects", "text2video"),
        ("Sound", "off", "on"),
        ("Shots", "—", "3 shots"),
        ("Effect scene", "bullet_time", "—"),
    ]:
        row = html[html.index(f">{label}<") :]
        row = row[: row.index("</tr>")]
        assert first in row and second in row, (label, row)


def test_lineage_shows_each_generations_kind(
    alice_client: Client, make_generation: Any, storyboard
) -> None:
    child = make_generation(
        id=504, kind="effects", params={"effect_scene": "hug_pro"}, parent=storyboard
    )
    html = alice_client.get(f"/review/{child.pk}/lineage/").content.decode()
    assert "Text to video · sound on · 3 shots" in html  # the parent
    assert "Effect · scene hug_pro" in html  # this one
    diff = html[html.index("What changed from the parent") :]
    assert "hug_pro" in diff and "3 shots" in diff


# ---- exports ------------------------------------------------------------------------------------
def test_the_csv_export_has_the_kind_and_its_params(
    alice_client: Client, effect, storyboard
) -> None:
    response = alice_client.get("/history/export.csv")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(b"".join(response).decode()))}
    assert rows["501"]["kind"] == "effects" and rows["501"]["effect_scene"] == "bullet_time"
    assert rows["501"]["sound"] == "off" and rows["501"]["shots"] == ""
    assert rows["502"]["sound"] == "on" and rows["502"]["shots"] == "3 shots"
    assert json.loads(rows["502"]["params"])["multi_prompt"][2]["prompt"] == "the cat sits"


def test_the_json_export_has_the_kind_and_its_params(alice_client: Client, effect) -> None:
    (item,) = json.loads(b"".join(alice_client.get("/history/export.json")))
    assert item["kind"] == "effects" and item["params"]["effect_scene"] == "bullet_time"


def test_the_zip_manifest_has_the_kind_and_its_params(
    alice_client: Client, effect, storyboard
) -> None:
    for generation in (effect, storyboard):
        name = default_storage.save(f"videos/{generation.pk}/video.mp4", ContentFile(b"mp4"))
        Generation.objects.filter(pk=generation.pk).update(video=name, status="succeeded")
    response = alice_client.get("/history/videos.zip", {"ids": ["501", "502"]})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = {m["id"]: m for m in json.loads(archive.read("manifest.json"))}
    assert manifest["501"]["kind"] == "effects" and manifest["501"]["effect_scene"] == "bullet_time"
    assert manifest["502"]["sound"] == "on" and manifest["502"]["shots"] == "3 shots"
    assert manifest["502"]["params"]["shot_type"] == "customize"


# ---- recipes ------------------------------------------------------------------------------------
def _effect_through_the_form(alice_client: Client) -> Generation:
    disable_local_providers()  # the job stays queued: no render needed to test the recipe
    photo = upload(color=(10, 120, 200))
    response = alice_client.post(
        "/generations/new/effects/", {"effect_scene": "bullet_time", "image": photo}
    )
    assert response.status_code in (200, 302), response.content[:500]
    return Generation.objects.get(kind="effects")


def test_a_recipe_stores_and_replays_an_effect_with_its_photo(alice_client: Client, user) -> None:
    source = _effect_through_the_form(alice_client)
    original = GenerationInput.objects.get(generation=source)
    alice_client.post(f"/review/{source.pk}/recipe/", {"name": "bullet"})
    recipe = Recipe.objects.get(name="bullet")
    assert recipe.parameters["kind"] == "effects"
    assert recipe.parameters["params"]["effect_scene"] == "bullet_time"
    assert recipe.parameters["inputs"] == [
        {"role": "image", "position": 0, "url": "", "file": original.file.name}
    ]

    response = alice_client.post(f"/recipes/{recipe.pk}/run/", {"confirm": "on"})
    run = RecipeRun.objects.get(recipe=recipe).generation
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.kind == "effects" and run.params == {"effect_scene": "bullet_time", "dual": False}
    (copy,) = GenerationInput.objects.filter(generation=run)
    assert copy.file.name != original.file.name
    with copy.file.open("rb") as new, original.file.open("rb") as old:
        assert new.read() == old.read()


def test_a_recipe_of_a_url_effect_replays_the_url(alice_client: Client, make_generation) -> None:
    source = make_generation(
        kind="effects", model_name="kling-effects", params={"effect_scene": "bullet_time"}
    )
    GenerationInput.objects.create(
        generation=source, role="image", position=0, url="https://example.com/photo.jpg"
    )
    recipe = Recipe.from_generation(source, source.owner, "by url")
    data, files = recipe.form_input()
    assert data["image"] == "https://example.com/photo.jpg" and files == {}
    assert data["effect_scene"] == "bullet_time"


def test_the_recipes_page_shows_the_kind_and_links_its_own_form(
    alice_client: Client, effect, storyboard
) -> None:
    Recipe.from_generation(effect, effect.owner, "fx")
    Recipe.from_generation(storyboard, storyboard.owner, "board")
    html = alice_client.get("/recipes/").content.decode()
    assert "Effect · scene bullet_time" in html
    assert "Text to video · sound on · 3 shots" in html
    assert 'href="/generations/new/effects/?' in html


def test_a_recipe_keeps_sound_and_the_kinds_settings(storyboard) -> None:
    recipe = Recipe.from_generation(storyboard, storyboard.owner, "board")
    data, _files = recipe.form_input()
    assert data["sound"] == "on" and data["multi_shot"] is True
    assert data["multi_prompt"] == SHOTS["multi_prompt"] and data["kind"] == "text2video"


def test_a_recipe_whose_photo_was_deleted_says_so(alice_client: Client) -> None:
    source = _effect_through_the_form(alice_client)
    recipe = Recipe.from_generation(source, source.owner, "gone")
    default_storage.delete(GenerationInput.objects.get(generation=source).file.name)
    response = alice_client.post(f"/recipes/{recipe.pk}/run/", {"confirm": "on"}, follow=True)
    assert "can no longer run: its photo is no longer stored" in response.content.decode()
    assert Generation.objects.filter(kind="effects").count() == 1


def test_a_kind_form_may_say_how_its_inputs_replay(monkeypatch, make_generation) -> None:
    from videos.kinds.effects import EffectsForm

    source = make_generation(kind="effects", params={"effect_scene": "hug_pro"})
    for position in (0, 1):
        GenerationInput.objects.create(
            generation=source, role="image", position=position, url=f"https://e.com/{position}"
        )

    def replay(inputs: list) -> tuple[dict, dict]:
        return {"input": {"images": [i["url"] for i in inputs]}}, {}

    monkeypatch.setattr(EffectsForm, "replay_inputs", staticmethod(replay), raising=False)
    data, files = Recipe.from_generation(source, source.owner, "pair").form_input()
    assert data["input"] == {"images": ["https://e.com/0", "https://e.com/1"]}
    assert "image" not in data and files == {}


def test_tweaking_a_recipe_passes_structured_settings_as_json(storyboard) -> None:
    from urllib.parse import parse_qs

    storyboard.params = {**SHOTS, "watermark_info": {"enabled": True}}
    recipe = Recipe.from_generation(storyboard, storyboard.owner, "board")
    query = parse_qs(recipe.form_query())
    assert json.loads(query["multi_prompt"][0]) == SHOTS["multi_prompt"]
    assert json.loads(query["watermark_info"][0]) == {"enabled": True}
    assert query["sound"] == ["on"]
