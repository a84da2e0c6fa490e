"""The generation form enforces kling-api.md §1.3-1.5 and the model catalogue."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.images import image_bytes, upload
from videos.creation import Origin, create_generation
from videos.forms import GenerationForm, camera_fields_from_json
from videos.models import Provider

pytestmark = pytest.mark.django_db


def t2v(**overrides: Any) -> dict[str, Any]:
    data = {"kind": "text2video", "model_name": "kling-v1", "prompt": "a lighthouse at dusk"}
    data.update(overrides)
    return data


def errors(
    data: dict[str, Any], files: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, list[str]]:
    form = GenerationForm(data, files or {}, **kwargs)
    form.is_valid()
    return form.errors


def test_it_accepts_a_minimal_text2video_with_kling_defaults() -> None:
    form = GenerationForm(t2v())
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert (data["mode"], data["duration"], data["aspect_ratio"], data["cfg_scale"]) == (
        "std",
        5,
        "16:9",
        0.5,
    )
    assert data["camera_control"] is None


def test_it_rejects_blank_prompt_for_text2video() -> None:
    assert "A prompt is required." in errors(t2v(prompt="  "))["prompt"]


def test_it_rejects_a_prompt_over_2500_characters() -> None:
    assert "prompt" in errors(t2v(prompt="x" * 2501))
    assert "negative_prompt" in errors(t2v(negative_prompt="x" * 2501))


def test_it_refuses_an_unknown_model_with_the_known_ones() -> None:
    form = GenerationForm(t2v(model_name="kling-v9"))
    assert not form.is_valid()
    message = form.errors["model_name"][0]
    assert "Unknown model 'kling-v9'" in message and "kling-v2-6" in message
    assert form.errors.as_data()["model_name"][0].code == "unknown_model"


@pytest.mark.parametrize("value", ["-0.1", "1.5", "abc"])
def test_it_rejects_cfg_scale_outside_zero_to_one(value: str) -> None:
    assert "cfg_scale" in errors(t2v(cfg_scale=value))


def test_it_never_keeps_cfg_scale_for_models_that_do_not_take_it() -> None:
    form = GenerationForm(t2v(model_name="kling-v2-master", cfg_scale="0.8"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["cfg_scale"] is None


def test_it_accepts_cfg_scale_for_the_seed_gateway_model() -> None:
    form = GenerationForm(t2v(model_name="doubao-seedance-2-0-fast-480p", cfg_scale="0.7"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["cfg_scale"] == 0.7


def test_it_rejects_a_duration_the_model_does_not_offer() -> None:
    assert "supports durations of 5, 10" in errors(t2v(duration="7"))["duration"][0]
    assert GenerationForm(t2v(model_name="kling-v3", duration="7")).is_valid()


@pytest.mark.parametrize("mode", ["standard", "professional", "fast"])
def test_it_rejects_modes_other_than_std_and_pro(mode: str) -> None:
    assert "mode" in errors(t2v(mode=mode))


def test_it_rejects_an_unlisted_aspect_ratio() -> None:
    assert "aspect_ratio" in errors(t2v(aspect_ratio="21:9"))
    assert GenerationForm(t2v(aspect_ratio="9:16")).is_valid()


def test_it_rejects_a_kind_the_model_does_not_do() -> None:
    assert "does not do text2video" in errors(t2v(model_name="kling-v1-5"))["model_name"][0]


def test_it_builds_a_simple_camera_move_with_one_axis() -> None:
    form = GenerationForm(t2v(camera_type="simple", camera_pan="-4"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0, "vertical": 0, "pan": -4.0, "tilt": 0, "roll": 0, "zoom": 0},
    }


@pytest.mark.parametrize("axes", [{}, {"camera_pan": "2", "camera_zoom": "3"}])
def test_it_requires_exactly_one_non_zero_axis_for_simple(axes: dict[str, str]) -> None:
    assert (
        "exactly one non-zero axis" in errors(t2v(camera_type="simple", **axes))["camera_type"][0]
    )


def test_it_rejects_an_axis_outside_ten() -> None:
    assert "camera_roll" in errors(t2v(camera_type="simple", camera_roll="11"))


def test_it_rejects_axis_values_on_a_preset_move() -> None:
    assert (
        "takes no config" in errors(t2v(camera_type="down_back", camera_zoom="2"))["camera_type"][0]
    )
    form = GenerationForm(t2v(camera_type="forward_up"))
    assert form.is_valid() and form.cleaned_data["camera_control"] == {"type": "forward_up"}


def test_it_rejects_camera_control_on_a_model_without_it() -> None:
    assert (
        "does not support camera control"
        in errors(t2v(model_name="kling-v2-master", camera_type="forward_up"))["camera_type"][0]
    )


def test_it_normalises_the_zoom_shorthand_to_simple() -> None:
    fields = camera_fields_from_json({"type": "zoom", "config": {"value": -5}})
    form = GenerationForm(t2v(**fields))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["camera_control"]["config"]["zoom"] == -5
    assert form.cleaned_data["camera_control"]["type"] == "simple"


def test_it_rejects_malformed_camera_json() -> None:
    with pytest.raises(ValidationError):
        camera_fields_from_json("{not json")
    with pytest.raises(ValidationError):
        camera_fields_from_json({"type": "simple", "config": {"warp": 3}})


def i2v(**overrides: Any) -> dict[str, Any]:
    data = {"kind": "image2video", "model_name": "kling-v1", "prompt": "the waves roll in"}
    data.update(overrides)
    return data


def test_it_requires_a_frame_for_image2video() -> None:
    assert "needs a first or a last frame" in errors(i2v())["image"][0]


def test_it_accepts_an_uploaded_first_frame_and_takes_its_aspect() -> None:
    form = GenerationForm(i2v(prompt=""), {"image": upload("a.png", width=400, height=700)})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["aspect_ratio"] == "9:16"


def test_it_accepts_a_first_frame_url_without_fetching_it_yet() -> None:
    assert GenerationForm(i2v(image_url="https://images.example.com/a.jpg")).is_valid()


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (lambda: upload("small.jpg", width=200, height=400), "at least 300 px"),
        (lambda: upload("wide.jpg", width=1500, height=400), "outside 1:2.5 to 2.5:1"),
        (lambda: upload("anim.gif"), "must be a JPEG or PNG"),
        (
            lambda: SimpleUploadedFile("fake.jpg", b"not an image at all"),
            "not a readable JPEG or PNG",
        ),
        (
            lambda: SimpleUploadedFile("huge.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 1)),
            "limit is 10 MB",
        ),
    ],
)
def test_it_rejects_frames_that_break_the_image_rules(file: Any, message: str) -> None:
    assert message in errors(i2v(), {"image": file()})["image"][0]


def test_it_allows_only_one_of_last_frame_masks_and_camera() -> None:
    found = errors(
        i2v(camera_type="forward_up"), {"image": upload(), "image_tail": upload("tail.jpg")}
    )
    assert "at most one of last frame, motion masks and camera control" in found["image_tail"][0]


def test_it_checks_dynamic_mask_trajectories() -> None:
    masks = '[{"mask": "https://x.example/m.png", "trajectories": [{"x": 1, "y": 2}]}]'
    assert (
        "2 to 77 trajectory points"
        in errors(i2v(dynamic_masks=masks), {"image": upload()})["dynamic_masks"][0]
    )


def test_it_rejects_images_on_text2video() -> None:
    assert "image" in errors(t2v(), {"image": upload()})


def test_it_rejects_a_last_frame_on_a_model_without_it() -> None:
    found = errors(
        i2v(model_name="kling-v2-1-master"), {"image": upload(), "image_tail": upload("t.jpg")}
    )
    assert "does not support a last frame" in found["image_tail"][0]


def test_it_estimates_units_from_the_catalogue() -> None:
    form = GenerationForm(t2v(mode="pro", duration="10"))
    assert form.is_valid()
    assert str(form.estimated_units()) == "7.00"


def test_a_frame_is_stored_under_its_decoded_format_not_its_name(user) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.images import image_bytes

    png_named_jpg = SimpleUploadedFile("holiday.jpg", image_bytes(fmt="PNG"))
    form = GenerationForm(i2v(), {"image": png_named_jpg})
    assert form.is_valid(), form.errors
    generation = create_generation(form, Origin(owner=user))
    assert generation.image.name.endswith("/image.png")


def test_frames_staged_for_a_row_that_was_not_written_are_removed(user, monkeypatch) -> None:
    from pathlib import Path

    from django.conf import settings

    from videos import creation
    from videos.models import Generation

    def broken_queue(pk: int) -> None:
        raise RuntimeError("queue unavailable")

    def stored_files() -> set[Path]:
        return {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}

    monkeypatch.setattr(creation, "enqueue_submit", broken_queue)
    form = GenerationForm(i2v(), {"image": upload()})
    assert form.is_valid(), form.errors
    before = stored_files()
    staged = form.stage_generation(user)
    assert (Path(settings.MEDIA_ROOT) / staged.image.name).is_file()  # staging does store
    Path(settings.MEDIA_ROOT, staged.image.name).unlink()
    with pytest.raises(RuntimeError):
        create_generation(form, Origin(owner=user))
    assert Generation.objects.count() == 0
    assert stored_files() == before


# ---- the rules across fields: each at its valid boundary and just past it ----------------------
# A mask is an image of the first frame's aspect (kling-api.md §1.4), given as raw Base64.
MASK = base64.b64encode(image_bytes(640, 360, fmt="PNG")).decode()
ONE_OF = "Use at most one of last frame, motion masks and camera control (got {})."


def masks(count: int = 1, points: int = 2) -> str:
    path = [{"x": 10 + n, "y": 20 + n} for n in range(points)]
    return json.dumps([{"mask": MASK, "trajectories": path} for _ in range(count)])


def valid(data: dict[str, Any], files: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    form = GenerationForm(data, files or {}, **kwargs)
    assert form.is_valid(), form.errors
    return form.cleaned_data


def only_error(data: dict[str, Any], files: dict[str, Any] | None, field: str) -> str:
    """The single error of an invalid form: on `field`, and nowhere else."""
    found = errors(data, files)
    assert list(found) == [field], found
    [message] = found[field]
    return message


@pytest.mark.parametrize(
    ("extra", "files"),
    [
        ({}, {"static_mask": "mask.png"}),
        ({"dynamic_masks": masks()}, {}),
        ({}, {"image_tail": "tail.jpg"}),
        ({"image_tail_url": "https://images.example.com/tail.jpg"}, {}),
        ({"camera_type": "forward_up"}, {}),
    ],
    ids=["static-mask", "dynamic-masks", "last-frame", "last-frame-url", "camera"],
)
def test_it_accepts_each_of_last_frame_masks_and_camera_alone(
    extra: dict[str, str], files: dict[str, str]
) -> None:
    uploads = {"image": upload(), **{field: upload(name) for field, name in files.items()}}
    data = valid(i2v(**extra), uploads)
    assert bool(data["dynamic_masks"]) == ("dynamic_masks" in extra)


CAMERA, DYNAMIC = {"camera_type": "forward_up"}, {"dynamic_masks": masks()}
TAIL_URL = {"image_tail_url": "https://images.example.com/t.jpg"}
STATIC, TAIL = {"static_mask": "m.png"}, {"image_tail": "t.jpg"}
MASKS_CAMERA, LAST_MASKS = "motion masks and camera control", "last frame and motion masks"


@pytest.mark.parametrize(
    ("extra", "files", "field", "got"),
    [
        pytest.param(CAMERA, STATIC, "camera_type", MASKS_CAMERA, id="static+camera"),
        pytest.param({**CAMERA, **DYNAMIC}, {}, "camera_type", MASKS_CAMERA, id="dynamic+camera"),
        pytest.param(DYNAMIC, TAIL, "image_tail", LAST_MASKS, id="last+dynamic"),
        pytest.param(TAIL_URL, STATIC, "image_tail", LAST_MASKS, id="last-url+static"),
        pytest.param(CAMERA, TAIL, "image_tail", "last frame and camera control", id="last+camera"),
        pytest.param(
            {**CAMERA, **DYNAMIC},
            TAIL,
            "image_tail",
            "last frame and motion masks and camera control",
            id="all-three",
        ),
    ],
)
def test_motion_masks_count_in_the_one_of_rule(
    extra: dict[str, str], files: dict[str, str], field: str, got: str
) -> None:
    uploads = {"image": upload(), **{name: upload(file) for name, file in files.items()}}
    assert only_error(i2v(**extra), uploads, field) == ONE_OF.format(got)


def test_a_mask_inherited_by_a_remix_counts_in_the_one_of_rule(make_generation) -> None:
    parent = make_generation(
        kind="image2video", image="inputs/1/image.png", static_mask="inputs/1/static_mask.png"
    )
    form = GenerationForm(i2v(camera_type="forward_up"), {}, inherit_frames_from=parent)
    assert not form.is_valid()
    assert form.errors["camera_type"] == [ONE_OF.format("motion masks and camera control")]
    assert GenerationForm(i2v(), {}, inherit_frames_from=parent).is_valid()


@pytest.fixture
def v1_only(db: None) -> Provider:
    return Provider.objects.create(name="kling-a", kind="kling", allowed_models=["kling-v1"])


def test_it_accepts_a_chosen_provider_that_serves_the_model(v1_only: Provider) -> None:
    assert valid(t2v(provider=str(v1_only.pk)))["provider"] == v1_only
    every_model = Provider.objects.create(name="kling-b", kind="kling", allowed_models=[])
    data = valid(t2v(model_name="kling-v1-6", provider=str(every_model.pk)))
    assert data["provider"] == every_model


def test_it_refuses_a_chosen_provider_that_does_not_serve_the_model(v1_only: Provider) -> None:
    data = t2v(model_name="kling-v1-6", provider=str(v1_only.pk))
    assert only_error(data, {}, "provider") == "kling-a does not serve kling-v1-6."


@pytest.mark.parametrize("field", ["image", "image_tail"])
def test_it_refuses_an_upload_and_a_url_for_the_same_frame(field: str) -> None:
    files = {"image": upload(), field: upload("both.jpg")}
    data = i2v(**{f"{field}_url": "https://images.example.com/both.jpg"})
    message = only_error(data, files, f"{field}_url")
    assert message == "Give the frame as an upload or a URL, not both."


def test_it_accepts_an_upload_for_one_frame_and_a_url_for_the_other() -> None:
    data = valid(i2v(image_tail_url="https://images.example.com/t.jpg"), {"image": upload()})
    assert data["image"] and data["image_tail_url"] == "https://images.example.com/t.jpg"
    data = valid(i2v(image_url="https://images.example.com/f.jpg"), {"image_tail": upload()})
    assert data["image_url"] and data["image_tail"]


@pytest.mark.parametrize("first", ["upload", "url", "none"])
def test_it_refuses_a_last_frame_url_on_a_model_without_last_frames(first: str) -> None:
    data = i2v(model_name="kling-v2-1-master", image_tail_url="https://images.example.com/t.jpg")
    files = {"image": upload()} if first == "upload" else {}
    if first == "url":
        data["image_url"] = "https://images.example.com/f.jpg"
    message = only_error(data, files, "image_tail")
    assert message == "kling-v2-1-master does not support a last frame."


def test_it_accepts_a_last_frame_url_on_a_model_with_last_frames() -> None:
    data = valid(i2v(model_name="kling-v1-6", image_tail_url="https://images.example.com/t.jpg"))
    assert data["image_tail_url"] == "https://images.example.com/t.jpg"


def test_it_accepts_six_dynamic_masks_and_refuses_seven() -> None:
    assert len(valid(i2v(dynamic_masks=masks(6)), {"image": upload()})["dynamic_masks"]) == 6
    message = only_error(i2v(dynamic_masks=masks(7)), {"image": upload()}, "dynamic_masks")
    assert message == "At most 6 dynamic masks are allowed."


@pytest.mark.parametrize("points", [2, 77])
def test_it_accepts_two_to_seventy_seven_trajectory_points(points: int) -> None:
    data = valid(i2v(dynamic_masks=masks(1, points)), {"image": upload()})
    assert len(data["dynamic_masks"][0]["trajectories"]) == points


@pytest.mark.parametrize("points", [0, 1, 78])
def test_it_refuses_trajectories_outside_two_to_seventy_seven_points(points: int) -> None:
    good = json.loads(masks(1, 2))[0]
    bad = json.loads(masks(1, points))[0]
    data = i2v(dynamic_masks=json.dumps([good, bad]))  # the second mask: the index is named
    message = only_error(data, {"image": upload()}, "dynamic_masks")
    assert message == "dynamic_masks[1] needs 2 to 77 trajectory points."
