"""The JSON shape of each create body: published in /api/openapi.json, and its types enforced.

One definition serves both: api/openapi_spec.py publishes these schemas, and the API forms
check every body against their types (json_type_error) before reading any value, so a field
of the wrong JSON type is a 400 naming it instead of being turned into text with str(). The
values themselves (ranges, choices, images) are the forms' business, with clearer messages.
"""

from __future__ import annotations

from typing import Any

from videos.forms import PROMPT_MAX
from videos.models import ASPECT_RATIOS, CAMERA_AXES, CAMERA_TYPES, Mode

DEFAULT_MODEL = "kling-v1"
NULL_MEANS_ABSENT = "A field given as null is treated as left out."

STRING = {"type": "string"}
PROMPT = {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX}
IMAGE = {
    "type": "string",
    "minLength": 1,
    "description": "an http(s) URL, raw Base64 or a data: URI (JPEG/PNG, ≥300 px, ≤10 MB); "
    "a URL must not carry a user name or password",
}
CALLBACK_URL = {
    "type": "string",
    "format": "uri",
    "maxLength": 2000,
    "description": "http(s), public host, no user name or password in it",
}
CAMERA = {
    "type": "object",
    "description": 'camera_control; the shorthand {"type": "zoom", "config": {"value": -5}} works',
    "properties": {
        "type": {"type": "string", "enum": CAMERA_TYPES + CAMERA_AXES},  # an axis: the shorthand
        "config": {
            "type": ["object", "null"],
            "properties": {
                axis: {"type": "number", "minimum": -10, "maximum": 10}
                for axis in [*CAMERA_AXES, "value"]
            },
            "additionalProperties": False,
        },
    },
    "required": ["type"],
}
DYNAMIC_MASKS = {
    "type": "array",
    "maxItems": 6,
    "items": {
        "type": "object",
        "properties": {
            "mask": {
                "type": "string",
                "description": "Base64 JPEG/PNG with the first frame's aspect ratio",
            },
            "trajectories": {
                "type": "array",
                "minItems": 2,
                "maxItems": 77,
                "items": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                },
            },
        },
        "required": ["mask", "trajectories"],
    },
}

_KLING_FIELDS: dict[str, Any] = {
    "model_name": {"type": "string", "default": DEFAULT_MODEL},
    "model": {"type": "string", "description": "synonym of model_name"},
    "prompt": PROMPT,
    "negative_prompt": {"type": "string", "maxLength": PROMPT_MAX},
    "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1},
    "mode": {"type": "string", "enum": Mode.values},
    "aspect_ratio": {"type": "string", "enum": ASPECT_RATIOS},
    "duration": {"type": ["string", "number"], "default": "5", "description": "whole seconds"},
    "camera_control": CAMERA,
    "callback_url": CALLBACK_URL,
    "external_task_id": {"type": "string", "maxLength": 128},
    # kling-kinds.md §7.2: what each model takes is its catalogue entry's (GET /api/models).
    "sound": {
        "type": "string",
        "enum": ["on", "off"],
        "default": "off",
        "description": "native sound: kling-v2-6 (pro) and kling-v3",
    },
    "voice_list": {
        "type": "array",
        "maxItems": 2,
        "description": "needs sound on; the prompt cites each as <<<voice_1>>>, <<<voice_2>>>",
        "items": {
            "type": "object",
            "properties": {"voice_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}},
            "required": ["voice_id"],
            "additionalProperties": False,
        },
    },
    "multi_shot": {
        "type": ["boolean", "string"],
        "default": False,
        "description": 'several shots (kling-v3); "true" and "false" are accepted too',
    },
    "shot_type": {
        "type": "string",
        "enum": ["customize", "intelligence"],
        "description": "required with multi_shot; intelligence splits the prompt itself",
    },
    "multi_prompt": {
        "type": "array",
        "minItems": 1,
        "maxItems": 6,
        "description": "required with shot_type customize; the durations sum to duration",
        "items": {
            "type": "object",
            "properties": {
                "index": {"type": "integer", "minimum": 1, "description": "1, 2, ... in order"},
                "prompt": {"type": "string", "minLength": 1, "maxLength": 512},
                "duration": {"type": ["string", "number"], "description": 'whole seconds, "5"'},
            },
            "required": ["index", "prompt", "duration"],
            "additionalProperties": False,
        },
    },
}
KLING_TEXT2VIDEO = {
    "type": "object",
    "description": "prompt is required unless multi_shot with shot_type customize gives "
    "multi_prompt (then it may be empty). " + NULL_MEANS_ABSENT,
    "properties": {**_KLING_FIELDS, "prompt": {"type": "string", "maxLength": PROMPT_MAX}},
    "anyOf": [
        {"required": ["prompt"], "properties": {"prompt": PROMPT}},
        {"required": ["multi_prompt"]},
    ],
}
KLING_IMAGE2VIDEO = {
    "type": "object",
    "description": "At least one of image and image_tail. " + NULL_MEANS_ABSENT,
    "properties": {
        **_KLING_FIELDS,
        "prompt": {"type": "string", "maxLength": PROMPT_MAX},
        "image": IMAGE,
        "image_tail": IMAGE,
        "static_mask": {"type": "string", "description": "Base64 JPEG/PNG, the frame's aspect"},
        "dynamic_masks": DYNAMIC_MASKS,
        # kling-kinds.md §7.2: image2video only, not with voice_list.
        "element_list": {
            "type": "array",
            "maxItems": 3,
            "description": "element library ids; not with voice_list",
            "items": {
                "type": "object",
                "properties": {"element_id": {"type": "integer", "minimum": 1}},
                "required": ["element_id"],
                "additionalProperties": False,
            },
        },
    },
    "anyOf": [{"required": ["image"]}, {"required": ["image_tail"]}],
}
EXTERNAL_TASK_ID = {"type": "string", "maxLength": 128}
WATERMARK = {
    "type": "object",
    "properties": {"enabled": {"type": "boolean"}},
    "required": ["enabled"],
}
KLING_EFFECTS = {
    "type": "object",
    "description": "kling-kinds.md §7.7: a scene and one image (input.image) or two "
    "(input.images) for two-person scenes; no model, mode or duration. " + NULL_MEANS_ABSENT,
    "properties": {
        "effect_scene": {"type": "string", "minLength": 1, "maxLength": 64},
        "input": {
            "type": "object",
            "properties": {
                "image": IMAGE,
                "images": {"type": "array", "minItems": 2, "maxItems": 2, "items": IMAGE},
                "duration": {
                    "type": ["string", "number"],
                    "description": "older clients' field: accepted and dropped",
                },
            },
        },
        "callback_url": CALLBACK_URL,
        "external_task_id": EXTERNAL_TASK_ID,
    },
    "required": ["effect_scene", "input"],
    "additionalProperties": False,
}
KLING_MULTI_IMAGE2VIDEO = {
    "type": "object",
    "description": "kling-kinds.md §7.4: 1 to 4 images of a subject and a prompt; kling-v1-6 "
    "only; no cfg_scale, camera or sound. " + NULL_MEANS_ABSENT,
    "properties": {
        "model_name": {"type": "string", "default": "kling-v1-6", "enum": ["kling-v1-6"]},
        "image_list": {
            "type": "array",
            "minItems": 1,
            "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {"image": IMAGE},
                "required": ["image"],
                "additionalProperties": False,
            },
        },
        "prompt": PROMPT,
        "negative_prompt": {"type": "string", "maxLength": PROMPT_MAX},
        "mode": {"type": "string", "enum": Mode.values, "default": "std"},
        "duration": {"type": ["string", "number"], "default": "5", "description": '"5" or "10"'},
        "aspect_ratio": {"type": "string", "enum": ["16:9", "9:16", "1:1"], "default": "16:9"},
        "watermark_info": WATERMARK,
        "callback_url": CALLBACK_URL,
        "external_task_id": EXTERNAL_TASK_ID,
    },
    "required": ["image_list", "prompt"],
    "additionalProperties": False,
}
KLING_OMNI_VIDEO = {
    "type": "object",
    "description": "kling-kinds.md §7.3: a prompt citing <<<image_N>>>, <<<element_N>>> and "
    "<<<video_1>>> (1-based, list order); images and elements at most 7 (4 with a video); at "
    "most one first_frame and end_frame (end needs first); a base video keeps its own length; "
    "aspect_ratio only without a first frame or base video. " + NULL_MEANS_ABSENT,
    "properties": {
        "model_name": {
            "type": "string",
            "default": "kling-video-o1",
            "enum": ["kling-video-o1", "kling-v3-omni"],
        },
        "prompt": {"type": "string", "maxLength": PROMPT_MAX},
        "multi_shot": {"type": ["boolean", "string"], "default": False},
        "shot_type": {"type": "string", "enum": ["customize", "intelligence"]},
        "multi_prompt": {
            "type": "array",
            "minItems": 1,
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer", "minimum": 1},
                    "prompt": {"type": "string", "maxLength": 512},
                    "duration": {"type": ["string", "number"]},
                },
                "required": ["index", "prompt", "duration"],
                "additionalProperties": False,
            },
        },
        "image_list": {
            "type": "array",
            "maxItems": 7,
            "items": {
                "type": "object",
                "properties": {
                    "image_url": IMAGE,
                    "type": {
                        "type": "string",
                        "enum": ["first_frame", "end_frame"],
                        "description": "left out: a reference image",
                    },
                },
                "required": ["image_url"],
                "additionalProperties": False,
            },
        },
        "element_list": {
            "type": "array",
            "maxItems": 7,
            "items": {
                "type": "object",
                "properties": {"element_id": {"type": ["integer", "string"]}},
                "required": ["element_id"],
                "additionalProperties": False,
            },
        },
        "video_list": {
            "type": "array",
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "video_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "http(s) only: mp4/mov, ≥ 3 s, 720..2160 px, 24..60 fps, "
                        "≤ 200 MB",
                    },
                    "refer_type": {
                        "type": "string",
                        "enum": ["base", "feature"],
                        "default": "base",
                    },
                    "keep_original_sound": {"type": "string", "enum": ["yes", "no"]},
                },
                "required": ["video_url"],
                "additionalProperties": False,
            },
        },
        "sound": {"type": "string", "enum": ["on", "off"], "default": "off"},
        "mode": {"type": "string", "enum": Mode.values, "default": "pro"},
        "aspect_ratio": {"type": "string", "enum": ["16:9", "9:16", "1:1"]},
        "duration": {"type": ["string", "number"], "default": "5", "description": '"3".."15"'},
        "watermark_info": WATERMARK,
        "callback_url": CALLBACK_URL,
        "external_task_id": EXTERNAL_TASK_ID,
    },
    "additionalProperties": False,
}
KLING_VIDEO_EXTEND = {
    "type": "object",
    "description": "kling-kinds.md §7.5: video_id is the studio's id of a finished kling-v1, "
    "v1-5 or v1-6 video of yours (the videos[].id of its task), at most 175 s long and 30 days "
    "old; model and mode are the source's; adds 4-5 s. negative_prompt and cfg_scale are not "
    "for kling-v1 sources. " + NULL_MEANS_ABSENT,
    "properties": {
        "video_id": {"type": "string", "minLength": 1, "maxLength": 32},
        "prompt": PROMPT,
        "negative_prompt": {"type": "string", "maxLength": 2500},
        "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1},
        "watermark_info": WATERMARK,
        "callback_url": CALLBACK_URL,
        "external_task_id": EXTERNAL_TASK_ID,
    },
    "required": ["video_id"],
    "additionalProperties": False,
}
KLING_IDENTIFY_FACE = {
    "type": "object",
    "description": "kling-kinds.md §7.6, synchronous, exactly one of: video_id, the studio's "
    "id of a finished video of yours (at most 60 s, under 30 days old), or video_url (mp4/mov, "
    "≤ 100 MB, 2..60 s, sides 512..2160 px). The answer's session_id is the studio's, valid for "
    "24 hours; face_data times are in ms. " + NULL_MEANS_ABSENT,
    "properties": {
        "video_id": {"type": "string", "minLength": 1, "maxLength": 32},
        "video_url": {**CALLBACK_URL, "description": "http(s), public host, no credentials"},
    },
    "additionalProperties": False,
}
MILLISECONDS = {"type": "integer", "minimum": 0}
VOLUME = {"type": "number", "minimum": 0, "maximum": 2}
KLING_ADVANCED_LIP_SYNC = {
    "type": "object",
    "description": "kling-kinds.md §7.6: session_id from identify-face (the studio's) and "
    "exactly one face_choose entry; sound_file: a URL or raw Base64 mp3/wav/m4a/aac, 2..60 s, "
    "≤ 5 MB (or audio_id); end - start ≥ 2000 ms; the span fits the video and overlaps the "
    "face by ≥ 2000 ms. " + NULL_MEANS_ABSENT,
    "properties": {
        "session_id": {"type": "string", "minLength": 1, "maxLength": 32},
        "face_choose": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "face_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "audio_id": {"type": "string", "maxLength": 128},
                    "sound_file": {"type": "string", "minLength": 1},
                    "sound_start_time": MILLISECONDS,
                    "sound_end_time": MILLISECONDS,
                    "sound_insert_time": MILLISECONDS,
                    "sound_volume": VOLUME,
                    "original_audio_volume": VOLUME,
                },
                "required": ["face_id", "sound_start_time", "sound_end_time", "sound_insert_time"],
                "additionalProperties": False,
            },
        },
        "watermark_info": WATERMARK,
        "callback_url": CALLBACK_URL,
        "external_task_id": EXTERNAL_TASK_ID,
    },
    "required": ["session_id", "face_choose"],
    "additionalProperties": False,
}
GENERIC_CREATE = {
    "type": "object",
    "description": "A prompt, an image, or both. " + NULL_MEANS_ABSENT,
    "properties": {
        "model": {"type": "string", "default": DEFAULT_MODEL},
        "prompt": {"type": "string", "maxLength": PROMPT_MAX},
        "image": IMAGE,
        "duration": {"type": "number", "description": "seconds, a whole number"},
        "width": {"type": "integer", "minimum": 1, "maximum": 10000},
        "height": {"type": "integer", "minimum": 1, "maximum": 10000},
        "metadata": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": Mode.values},
                "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1},
                "aspect_ratio": {"type": "string", "enum": ASPECT_RATIOS},
                "negative_prompt": {"type": "string", "maxLength": PROMPT_MAX},
                "camera_control": CAMERA,
            },
        },
        "callback_url": CALLBACK_URL,
    },
    "anyOf": [{"required": ["prompt"], "properties": {"prompt": PROMPT}}, {"required": ["image"]}],
}
OPENAI_CREATE = {
    "type": "object",
    "description": NULL_MEANS_ABSENT,
    "properties": {
        "prompt": PROMPT,
        "model": {"type": "string", "default": DEFAULT_MODEL},
        "seconds": {"type": ["string", "number"], "description": 'whole seconds, e.g. "5"'},
        "size": {"type": "string", "pattern": "^[0-9]{2,5}x[0-9]{2,5}$"},
        "input_reference": {
            "type": ["object", "string"],
            "description": "{image_url: an http(s) or data: URL}, or the URL itself",
            "properties": {"image_url": IMAGE},
        },
    },
    "required": ["prompt"],
}
# The Kling-native create body of every kind, by kind: (its name in the OpenAPI document, schema).
KIND_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "text2video": ("KlingText2Video", KLING_TEXT2VIDEO),
    "image2video": ("KlingImage2Video", KLING_IMAGE2VIDEO),
    "effects": ("KlingEffects", KLING_EFFECTS),
    "multi-image2video": ("KlingMultiImage2Video", KLING_MULTI_IMAGE2VIDEO),
    "omni-video": ("KlingOmniVideo", KLING_OMNI_VIDEO),
    "video-extend": ("KlingVideoExtend", KLING_VIDEO_EXTEND),
    "advanced-lip-sync": ("KlingAdvancedLipSync", KLING_ADVANCED_LIP_SYNC),
}
OPENAI_CREATE_MULTIPART = {
    "type": "object",
    "properties": {
        "prompt": PROMPT,
        "model": STRING,
        "seconds": STRING,
        "size": OPENAI_CREATE["properties"]["size"],
        "input_reference": {"type": "string", "format": "binary"},
    },
    "required": ["prompt"],
}


# ---- enforcing the types -----------------------------------------------------------------------
_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), "null")


def _matches(value: Any, wanted: str) -> bool:
    kind = _json_kind(value)
    if wanted == "integer":  # 5.0 is a whole number too, as in JSON Schema
        return kind == "number" and (isinstance(value, int) or value.is_integer())
    return kind == wanted


def json_type_error(body: Any, schema: dict[str, Any]) -> tuple[str, str] | None:
    """(path, message) for the first value whose JSON type the schema does not allow.

    Follows type, properties, items and object-valued additionalProperties; null anywhere
    counts as left out. Walked with a stack: a body may be nested as deep as JSON allows.
    """
    stack: list[tuple[str, Any, dict[str, Any]]] = [("", body, schema)]
    while stack:
        path, value, rule = stack.pop()
        if value is None:
            continue
        wanted = rule.get("type")
        types = [wanted] if isinstance(wanted, str) else list(wanted or [])
        if types and not any(_matches(value, t) for t in types):
            expected = " or ".join(_WORDS[t] for t in types if t != "null")
            return path, f"must be {expected}, not {_WORDS[_json_kind(value)]}"
        inner: list[tuple[str, Any, dict[str, Any]]] = []
        if isinstance(value, dict):
            known = rule.get("properties", {})
            extra = rule.get("additionalProperties")
            if extra is False:
                unknown = sorted(set(value) - set(known))
                if unknown:
                    where = f"{path}.{unknown[0]}" if path else unknown[0]
                    return where, "is not a field of this request"
            for key, item in value.items():
                sub = known.get(key, extra if isinstance(extra, dict) else None)
                if sub is not None:
                    inner.append((f"{path}.{key}" if path else key, item, sub))
        elif isinstance(value, list) and isinstance(rule.get("items"), dict):
            inner = [(f"{path}[{i}]", item, rule["items"]) for i, item in enumerate(value)]
        stack.extend(reversed(inner))  # the first in the document is reported first
    return None
