"""The omni-video page (kling-kinds.md §7.3): several shots for kling-v3-omni with the classic
form's shot editor, element ids, each error beside its field."""

from __future__ import annotations

import pytest
from django.test import Client

from videos.models import Generation


def beside(page: str, field: str) -> str:
    """The field's block of the page: from its id to the next field's."""
    start = page.index(f'id="field-{field}"')
    end = page.find('id="field-', start + 1)
    return page[start : end if end > 0 else len(page)]


def shots(*rows: tuple[str, str]) -> dict:
    return {
        "multi_prompt_prompt": [prompt for prompt, _s in rows],
        "multi_prompt_duration": [seconds for _p, seconds in rows],
    }


V3 = {"model_name": "kling-v3-omni", "mode": "std", "duration": "5"}


@pytest.mark.django_db
def test_the_page_has_the_shot_editor_and_element_ids(alice_client: Client) -> None:
    page = alice_client.get("/generations/new/omni-video/").content.decode()
    for name in ("multi_shot", "shot_type", "multi_prompt_prompt", "multi_prompt_duration"):
        assert f'name="{name}"' in page
    assert 'name="element_list" type="text"' in page or 'type="text" name="element_list"' in page
    assert "data-shot-editor" in page and "js/shots.js" in page and 'id="model-catalogue"' in page
    # kling-video-o1 (the default) does no multi-shot: the shots wait hidden for kling-v3-omni.
    assert '<fieldset data-needs="shots" hidden>' in page
    assert '"kling-v3-omni":{' in page.replace("&quot;", '"')


@pytest.mark.django_db
def test_my_shots_and_elements_make_a_job(alice_client: Client, user) -> None:
    answer = alice_client.post(
        "/generations/new/omni-video/",
        {
            **V3,
            "multi_shot": "on",
            "shot_type": "customize",
            **shots(("a door opens", "2"), ("<<<element_1>>> walks in", "3")),
            "element_list": "123, 456",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    generation = Generation.objects.get()
    assert generation.params["multi_shot"] is True
    assert generation.params["shot_type"] == "customize"
    assert [
        (s["index"], s["prompt"], int(s["duration"])) for s in generation.params["multi_prompt"]
    ] == [
        (1, "a door opens", 2),
        (2, "<<<element_1>>> walks in", 3),
    ]
    assert generation.params["element_list"] == [123, 456]


@pytest.mark.django_db
def test_an_unticked_shot_editor_is_ignored(alice_client: Client) -> None:
    answer = alice_client.post(
        "/generations/new/omni-video/",
        {**V3, "prompt": "a harbour", "shot_type": "", **shots(("", ""))},
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert "multi_prompt" not in Generation.objects.get().params


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"multi_shot": "on", "shot_type": "customize", **shots(("one", "2"), ("two", "2"))},
            "multi_prompt",
            "durations sum to 4, duration is 5",
        ),
        (
            {"multi_shot": "on", "shot_type": "customize", **shots(("one", "2"), ("", "3"))},
            "multi_prompt",
            "Shot 2 needs a prompt.",
        ),
        ({"multi_shot": "on", **shots(("one", "5"))}, "shot_type", "shot_type is required"),
        (
            {"prompt": "a door", "element_list": "12, x3"},
            "element_list",
            "Element 2 is not an element id",
        ),
        (
            {"model_name": "kling-video-o1", "multi_shot": "on", "shot_type": "intelligence"},
            "multi_shot",
            "kling-video-o1 does not do multi-shot.",
        ),
    ],
)
def test_each_shot_or_element_error_is_beside_its_field(
    fields: dict, field: str, message: str, alice_client: Client
) -> None:
    answer = alice_client.post("/generations/new/omni-video/", {**V3, "prompt": "x", **fields})
    page = answer.content.decode()
    assert answer.status_code == 200 and message in page, page[:3000]
    assert message in beside(page, field)
    assert not Generation.objects.exists()


@pytest.mark.django_db
def test_a_remix_puts_the_shots_and_elements_back(alice_client: Client, user) -> None:
    alice_client.post(
        "/generations/new/omni-video/",
        {
            **V3,
            "multi_shot": "on",
            "shot_type": "customize",
            **shots(("a door opens", "2"), ("rain", "3")),
            "element_list": "77",
        },
    )
    source = Generation.objects.get()
    page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
    assert 'value="a door opens"' in page and 'value="rain"' in page
    assert 'value="77"' in page and '<option value="customize" selected>' in page
    assert '<fieldset data-needs="shots">' in page  # shown: the model does shots


@pytest.mark.django_db
def test_a_re_run_keeps_the_shots_and_elements(alice_client: Client, user) -> None:
    from videos.creation import rerun

    alice_client.post(
        "/generations/new/omni-video/",
        {
            **V3,
            "multi_shot": "on",
            "shot_type": "customize",
            **shots(("a door opens", "2"), ("rain", "3")),
            "element_list": "77",
        },
    )
    source = Generation.objects.get()
    again = rerun(source, user)
    for key in ("multi_shot", "shot_type", "multi_prompt", "element_list"):
        assert again.params[key] == source.params[key], key
