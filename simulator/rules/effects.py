"""effects (kling-kinds.md §7.7): a scene and its image(s); no model, mode or duration."""

from __future__ import annotations

from typing import Any

from .common import check_misc, image_size

# Two-person scenes take input.images; every other scene input.image.
DUAL = {
    "pet_skateboard", "daily_ootd", "toss_run", "switch_to_silk", "studio_look",
    "french_elegance", "finger_swipe", "smooth_transition", "kiss_pro", "snow_night_kiss",
    "eternal_kiss", "cheers_2026", "fight_pro", "hug_pro", "heart_gesture_pro",
}  # fmt: skip
RETIRED = {
    "celebration": "celebration_pro",
    "c4d_cartoon": "c4d_cartoon_pro",
    "kiss": "kiss_pro",
    "fight": "fight_pro",
    "hug": "hug_pro",
    "thumbs_up": "thumbs_up_pro",
    "tiger_hug": "tiger_hug_pro",
    "pet_lion": "pet_lion_pro",
    "3d_cartoon_1": "3d_cartoon_1_pro",
    "magic_match_tree": "",
}
KNOWN_FIELDS = {"effect_scene", "input", "callback_url", "external_task_id"}


def check(kind: str, body: Any, *, gateway: bool) -> str | None:
    """The first rule an effects body breaks, as a message naming the field; None if valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    scene = body.get("effect_scene")
    if not isinstance(scene, str) or not scene:
        return "effect_scene is required"
    if scene in RETIRED:
        successor = RETIRED[scene]
        return f"effect_scene {scene} is retired" + (f"; use {successor}" if successor else "")
    given = body.get("input")
    if not isinstance(given, dict):
        return "input is required"
    if set(given) - {"image", "images"}:
        return "input accepts only image or images"
    if scene in DUAL:
        images = given.get("images")
        if not isinstance(images, list) or len(images) != 2 or "image" in given:
            return f"input.images must hold two images for {scene}"
        for i, image in enumerate(images):
            if isinstance(size := image_size(image, f"input.images[{i}]"), str):
                return size
    else:
        if "images" in given or "image" not in given:
            return f"input.image is required for {scene}"
        if isinstance(size := image_size(given["image"], "input.image"), str):
            return size
    return check_misc(kind, body, "")
