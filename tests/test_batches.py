"""Variants and prompt alternatives: one web submission, one job per combination, all or none,
its cost shown and (above STUDIO_CONFIRM_UNITS) confirmed before anything is sent; and the
confirmation step of re-runs and recipes."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import Client

from review.models import Recipe
from tests.images import upload
from videos.batches import MAX_JOBS, job_count_error, parse_prompt
from videos.creation import Origin, create_generations
from videos.forms import BatchForm
from videos.limits import LimitExceeded
from videos.models import Generation, GenerationEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def submit(client: Client, prompt: str, **fields: Any) -> Any:
    data = {"kind": "text2video", "model_name": "kling-v1", "prompt": prompt, **fields}
    return client.post("/generations/new/", data)


def field_errors(html: str, field: str) -> str:
    """The text of a form field's block (its errors are inside it), or ""."""
    match = re.search(rf'id="field-{field}".*?</div>', html, re.S)
    return match.group(0) if match else ""


# ---- expansion -----------------------------------------------------------------------------------
def test_it_expands_alternatives_in_reading_order() -> None:
    assert parse_prompt("{red|blue} kite").expand() == ["red kite", "blue kite"]
    assert parse_prompt("a {red|blue} {kite|boat}").expand() == [
        "a red kite",
        "a red boat",
        "a blue kite",
        "a blue boat",
    ]


def test_a_prompt_without_braces_is_one_prompt_unchanged() -> None:
    template = parse_prompt("一只小猫在花园里玩耍 | sunny")
    assert template.count == 1 and template.expand() == ["一只小猫在花园里玩耍 | sunny"]
    assert not template.has_alternatives


def test_escaped_braces_and_bars_are_literal() -> None:
    assert parse_prompt(r"a \{json\} {x\|y|z} sign \\ ok").expand() == [
        r"a {json} x|y sign \ ok",
        r"a {json} z sign \ ok",
    ]
    assert parse_prompt(r"back\slash stays").expand() == [r"back\slash stays"]


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("{red|blue kite", "The “{” at character 1 is never closed"),
        ("red} kite", "The “}” at character 4 closes no group"),
        ("{red|{blue}} kite", "groups cannot nest"),
    ],
)
def test_unbalanced_braces_say_where(prompt: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_prompt(prompt)
    message = caught.value.messages[0]
    assert words in message and ("\\{" in message or "\\}" in message)  # how to write one


def test_the_count_comes_without_building_the_prompts() -> None:
    """30 groups of 2 are a billion prompts: counted instantly, refused by the cap."""
    template = parse_prompt("{a|b}" * 30)
    started = time.monotonic()
    assert template.count == 2**30
    assert time.monotonic() - started < 0.1
    error = job_count_error(template.count, 1)
    assert error is not None and f"at most {MAX_JOBS}" in error.messages[0]
    assert job_count_error(4, 4) is None and job_count_error(5, 4) is not None


# ---- the create form -----------------------------------------------------------------------------
def test_variants_and_alternatives_make_one_job_each_in_one_batch(alice_client, user) -> None:
    response = submit(alice_client, "{red|blue} kite", variants="2")
    assert response.status_code == 302
    rows = list(Generation.objects.order_by("batch_index"))
    assert [g.prompt for g in rows] == ["red kite", "red kite", "blue kite", "blue kite"]
    assert {g.batch_id for g in rows} == {rows[0].batch_id} and rows[0].batch_id is not None
    assert [g.batch_index for g in rows] == [0, 1, 2, 3]
    assert {g.batch_size for g in rows} == {4}
    assert {g.owner_id for g in rows} == {user.pk}
    assert {g.estimated_units for g in rows} == {Decimal("1.00")}
    assert len({g.pk for g in rows}) == 4
    # Each job has its own timeline.
    assert GenerationEvent.objects.filter(message="created").count() == 4
    page = alice_client.get("/").content.decode()
    assert "Queued 4 jobs: {red|blue} kite." in page


def test_a_single_job_has_no_batch(alice_client) -> None:
    submit(alice_client, "a kite")
    generation = Generation.objects.get()
    assert generation.batch_id is None and generation.batch_size == 1 and not generation.in_batch


def test_more_jobs_than_the_cap_are_refused_beside_the_prompt(alice_client) -> None:
    response = submit(alice_client, "{a|b|c|d|e} kite", variants="4")
    html = response.content.decode()
    assert response.status_code == 200 and Generation.objects.count() == 0
    block = field_errors(html, "prompt")
    assert "This makes 20 jobs (5 prompts × 4 variants)" in block and "at most 16" in block


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("{red|blue kite", "is never closed"),
        ("red} kite", "closes no group"),
        ("{|}", "An alternative leaves the prompt empty"),
    ],
)
def test_a_broken_template_is_explained_beside_the_prompt(
    alice_client, prompt: str, words: str
) -> None:
    html = submit(alice_client, prompt).content.decode()
    assert words in field_errors(html, "prompt")
    assert Generation.objects.count() == 0


def test_an_escaped_brace_is_sent_as_a_brace(alice_client) -> None:
    submit(alice_client, r"a sign reading \{open\}")
    assert Generation.objects.get().prompt == "a sign reading {open}"


def test_variants_outside_one_to_four_are_refused(alice_client) -> None:
    html = submit(alice_client, "a kite", variants="5").content.decode()
    assert "Select a valid choice" in field_errors(html, "variants")
    assert Generation.objects.count() == 0


# ---- the cost, and its confirmation --------------------------------------------------------------
def test_a_submission_over_the_threshold_is_refused_until_confirmed(alice_client) -> None:
    """4 pro jobs of 3.50 = 14 units > 10: the server refuses it whatever the page did."""
    response = submit(alice_client, "{red|blue} kite", variants="2", mode="pro")
    html = response.content.decode()
    assert response.status_code == 200 and Generation.objects.count() == 0
    block = field_errors(html, "confirm_cost")
    assert "costs 14.00 units (4 jobs), more than 10" in block and 'role="alert"' in block
    assert 'name="confirm_cost"' in block
    response = submit(alice_client, "{red|blue} kite", variants="2", mode="pro", confirm_cost="on")
    assert response.status_code == 302 and Generation.objects.count() == 4


def test_a_submission_under_the_threshold_needs_no_confirmation(alice_client) -> None:
    assert submit(alice_client, "{red|blue} kite", variants="2").status_code == 302  # 4 units


def test_the_threshold_is_a_setting(alice_client, settings) -> None:
    settings.STUDIO_CONFIRM_UNITS = Decimal("3")
    assert submit(alice_client, "{red|blue} kite", variants="2").status_code == 200
    assert Generation.objects.count() == 0
    settings.STUDIO_CONFIRM_UNITS = Decimal("20")
    assert submit(alice_client, "{red|blue} kite", variants="2", mode="pro").status_code == 302


def test_the_estimate_shows_jobs_and_total_before_sending(alice_client) -> None:
    response = alice_client.post(
        "/generations/estimate/",
        {"model_name": "kling-v1", "mode": "std", "duration": "5", "prompt": "{red|blue} kite",
         "variants": "2"},
        **HTMX,
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong id="batch-total">4 jobs, 4.00 units</strong>' in html
    assert "1.00 units each" in html and "confirm_cost" not in html
    assert Generation.objects.count() == 0


def test_the_estimate_asks_to_confirm_above_the_threshold(alice_client) -> None:
    data = {"model_name": "kling-v1", "mode": "pro", "prompt": "{red|blue} kite", "variants": "2"}
    html = alice_client.post("/generations/estimate/", data, **HTMX).content.decode()
    assert "4 jobs, 14.00 units" in html and 'name="confirm_cost"' in html
    assert " checked" not in html
    html = alice_client.post(
        "/generations/estimate/", {**data, "confirm_cost": "on"}, **HTMX
    ).content.decode()
    assert 'name="confirm_cost" id="id_confirm_cost" value="on" checked' in html


def test_the_estimate_explains_a_broken_template(alice_client) -> None:
    data = {"model_name": "kling-v1", "prompt": "{red|blue kite"}
    html = alice_client.post("/generations/estimate/", data, **HTMX).content.decode()
    assert "is never closed" in html and "1.00 units" in html
    many = {"model_name": "kling-v1", "prompt": "{a|b|c|d|e}", "variants": "4"}
    assert "at most 16" in alice_client.post("/generations/estimate/", many).content.decode()


def test_the_estimate_refuses_a_hand_made_variant_count(alice_client) -> None:
    response = alice_client.get("/generations/estimate/?model_name=kling-v1&variants=9")
    assert response.status_code == 400 and "variants" in response.content.decode()


def test_the_form_page_offers_variants_and_a_live_estimate(alice_client) -> None:
    html = alice_client.get("/generations/new/").content.decode()
    assert 'name="variants"' in html and 'id="estimate-trigger"' in html
    assert (
        'hx-params="model_name,mode,duration,prompt,variants,confirm_cost,provider,sound"' in html
    )
    assert "Estimated cost <strong>1.00 units</strong>" in html


def test_the_estimate_is_for_signed_in_members_only() -> None:
    response = Client().post("/generations/estimate/", {"model_name": "kling-v1"})
    assert response.status_code == 302 and "/login/" in response["Location"]


# ---- all or nothing ------------------------------------------------------------------------------
class RowLimit:
    """A limit that lets `allowed` rows exist: it counts the rows this transaction inserted."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed

    def check(self, model_name: str, estimate: Decimal) -> None:
        if Generation.objects.count() >= self.allowed:
            raise LimitExceeded("budget", "over budget")


def valid_form(**fields: Any) -> BatchForm:
    data = {"kind": "text2video", "model_name": "kling-v1", "prompt": "{a|b} kite", **fields}
    files = {}
    if data["kind"] == "image2video":
        files = {"image": upload()}
    form = BatchForm(data, files)
    assert form.is_valid(), form.errors
    return form


def test_a_limit_refusing_one_job_refuses_the_whole_batch(user) -> None:
    form = valid_form(variants="2")
    with pytest.raises(LimitExceeded):
        create_generations(form, Origin(owner=user, limits=[RowLimit(3)]), form.prompts)
    assert Generation.objects.count() == 0 and GenerationEvent.objects.count() == 0


def stored_inputs() -> set[str]:
    """Every file under inputs/ in storage."""
    if not default_storage.exists("inputs"):
        return set()
    folders, _files = default_storage.listdir("inputs")
    return {f"{d}/{name}" for d in folders for name in default_storage.listdir(f"inputs/{d}")[1]}


def test_a_refused_batch_leaves_no_staged_frame(user) -> None:
    before = stored_inputs()
    form = valid_form(kind="image2video", variants="2")
    with pytest.raises(LimitExceeded):
        create_generations(form, Origin(owner=user, limits=[RowLimit(1)]), form.prompts)
    assert Generation.objects.count() == 0 and stored_inputs() == before
    # The same batch within its limit does store the frame: the check above can fail.
    create_generations(form, Origin(owner=user), form.prompts)
    assert len(stored_inputs() - before) == 1


def test_a_batch_within_the_limit_is_created_whole(user) -> None:
    form = valid_form(variants="2")
    rows = create_generations(form, Origin(owner=user, limits=[RowLimit(4)]), form.prompts)
    assert len(rows) == 4 and Generation.objects.count() == 4


def test_the_jobs_of_a_batch_share_one_stored_frame(alice_client) -> None:
    data = {"kind": "image2video", "model_name": "kling-v1", "variants": "2", "image": upload()}
    assert alice_client.post("/generations/new/", data).status_code == 302
    first, second = Generation.objects.order_by("batch_index")
    assert first.image.name == second.image.name and default_storage.exists(first.image.name)
    first.delete_with_files()  # the other job still uses it
    assert default_storage.exists(second.image.name)


# ---- the gallery groups a batch ------------------------------------------------------------------
def test_the_gallery_badges_each_job_of_a_batch(alice_client) -> None:
    submit(alice_client, "{red|blue} kite", variants="2")
    submit(alice_client, "a lone kite")
    html = alice_client.get("/").content.decode()
    batch_id = str(Generation.objects.filter(batch_size=4).first().batch_id)
    badges = re.findall(r'data-batch="([^"]+)"[^>]*>(\d) of (\d)</span>', html)
    assert sorted(badges) == [(batch_id, str(n), "4") for n in (1, 2, 3, 4)]
    assert html.count("card gen status-queued in-batch") == 4
    lone = Generation.objects.get(prompt="a lone kite")
    card = re.search(rf'id="card-{lone.pk}".*?</article>', html, re.S).group(0)
    assert "data-batch" not in card and "in-batch" not in card


def test_new_batch_cards_arrive_with_their_badges_in_the_poll(alice_client) -> None:
    submit(alice_client, "a first kite")
    newest = Generation.objects.get().pk
    submit(alice_client, "{red|blue} kite")
    html = alice_client.get(
        f"/?watch=&newest={newest}", HTTP_HX_TARGET="gallery-poll", **HTMX
    ).content.decode()
    assert "1 of 2" in html and "2 of 2" in html


# ---- re-run and recipes confirm their cost -------------------------------------------------------
def test_rerun_shows_the_cost_first(alice_client, make_generation) -> None:
    parent = make_generation(status="succeeded", mode="pro", duration=10)
    response = alice_client.get(f"/generations/{parent.pk}/rerun/")
    html = response.content.decode()
    assert response.status_code == 200 and "Estimated cost <strong>7.00 units</strong>" in html
    assert "Run it for 7.00 units" in html and 'name="confirm"' in html
    assert Generation.objects.count() == 1


def test_an_unconfirmed_rerun_sends_nothing(alice_client, make_generation) -> None:
    parent = make_generation(status="succeeded")
    response = alice_client.post(f"/generations/{parent.pk}/rerun/")
    html = response.content.decode()
    assert response.status_code == 200 and "Confirm the cost to run it" in html
    assert Generation.objects.count() == 1


def test_a_confirmed_rerun_is_queued(alice_client, make_generation) -> None:
    parent = make_generation(status="succeeded")
    response = alice_client.post(f"/generations/{parent.pk}/rerun/", {"confirm": "on"})
    child = Generation.objects.exclude(pk=parent.pk).get()
    assert response["Location"] == f"/generations/{child.pk}/" and child.parent_id == parent.pk


def test_a_recipe_shows_its_cost_and_runs_only_when_confirmed(alice_client, make_generation, user):
    source = make_generation(status="succeeded", mode="pro", duration=5)
    recipe = Recipe.from_generation(source, user, "pro fox")
    html = alice_client.get(f"/recipes/{recipe.pk}/run/").content.decode()
    assert "Run the recipe “pro fox”" in html and "<strong>3.50 units</strong>" in html
    assert "Confirm the cost" in alice_client.post(f"/recipes/{recipe.pk}/run/").content.decode()
    assert Generation.objects.count() == 1
    alice_client.post(f"/recipes/{recipe.pk}/run/", {"confirm": "on"})
    assert Generation.objects.count() == 2


def test_the_pages_link_to_the_confirm_steps(alice_client, make_generation, user) -> None:
    generation = make_generation(status="succeeded")
    recipe = Recipe.from_generation(generation, user, "fox")
    detail = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert f'href="/generations/{generation.pk}/rerun/">Re-run…</a>' in detail
    recipes = alice_client.get("/recipes/").content.decode()
    assert f'href="/recipes/{recipe.pk}/run/">Run now…</a>' in recipes
