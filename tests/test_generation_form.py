"""The generation form enforces kling-api.md §1.3-1.5 and the model catalogue."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.images import upload
from videos.forms import GenerationForm, camera_fields_from_json

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
    generation = form.create_generation(user)
    assert generation.image.name.endswith("/image.png")


def test_frames_staged_for_a_row_that_was_not_written_are_removed(user, monkeypatch) -> None:
    from pathlib import Path

    from django.conf import settings

    from videos import forms as forms_module
    from videos.models import Generation

    def broken_queue(pk: int) -> None:
        raise RuntimeError("queue unavailable")

    def stored_files() -> set[Path]:
        return {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}

    monkeypatch.setattr(forms_module, "enqueue_submit", broken_queue)
    form = GenerationForm(i2v(), {"image": upload()})
    assert form.is_valid(), form.errors
    before = stored_files()
    staged = form.stage_generation(user)
    assert (Path(settings.MEDIA_ROOT) / staged.image.name).is_file()  # staging does store
    Path(settings.MEDIA_ROOT, staged.image.name).unlink()
    with pytest.raises(RuntimeError):
        form.create_generation(user)
    assert Generation.objects.count() == 0
    assert stored_files() == before
