"""The OpenAPI 3.1 description of the studio API (kling-api.md §3), served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from .auth import JWT_MAX_LIFETIME_SECONDS
from .bodies import (
    GENERIC_CREATE,
    KIND_BODIES,
    KLING_IDENTIFY_FACE,
    OPENAI_CREATE,
    OPENAI_CREATE_MULTIPART,
)
from .errors import OPENAI_CODES
from .kling import KLING_STATUS
from .openai import OPENAI_STATUS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _words(statuses: dict[str, str]) -> list[str]:
    """A family's status words, each once, in the order of the studio's statuses."""
    return list(dict.fromkeys(statuses.values()))


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


KLING_ERRORS = {
    "400": _json(_ref("KlingError"), "1200 invalid request, 1201 invalid field (named)"),
    "401": _json(
        _ref("KlingError"), "1000 revoked/expired key, 1001 missing, 1002 bad, 1004 expired JWT"
    ),
    "403": _json(_ref("KlingError"), "1103 model not allowed for this key"),
    "404": _json(_ref("KlingError"), "1202 wrong method, 1203 unknown model or task"),
    "413": _json(_ref("KlingError"), "1201 the body is over the studio's size limit"),
    "429": _json(
        _ref("KlingError"),
        "1102 unit budget spent, 1302 too many requests, 1303 too many running tasks",
    ),
}
OPENAI_ERRORS = {
    status: _json(_ref("OpenAIError"), r["description"]) for status, r in KLING_ERRORS.items()
}

KLING_TASK = {
    "type": "object",
    "properties": {
        "task_id": {"type": "string"},
        "task_status": {"type": "string", "enum": _words(KLING_STATUS)},
        "task_status_msg": {"type": "string"},
        "task_info": {"type": "object", "properties": {"external_task_id": {"type": "string"}}},
        "task_result": {
            "type": "object",
            "properties": {
                "videos": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "url": {"type": "string"},
                            "duration": {"type": "string"},
                        },
                    },
                }
            },
        },
        "final_unit_deduction": {"type": "string"},
        "created_at": {"type": "integer", "description": "milliseconds"},
        "updated_at": {"type": "integer", "description": "milliseconds"},
    },
}
VIDEO = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "video"},
        "model": {"type": "string"},
        "status": {"type": "string", "enum": _words(OPENAI_STATUS)},
        "progress": {"type": "integer"},
        "created_at": {"type": "integer", "description": "seconds"},
        "completed_at": {"type": ["integer", "null"]},
        "expires_at": {"type": ["integer", "null"]},
        "seconds": {"type": "string"},
        "size": {"type": "string"},
        "prompt": {"type": "string"},
        "remixed_from_video_id": {"type": ["string", "null"]},
        "error": {"type": ["object", "null"]},
    },
}
RESOURCE_PACK = {
    "type": "object",
    "required": [
        "resource_pack_name", "resource_pack_id", "resource_pack_type", "total_quantity",
        "remaining_quantity", "purchase_time", "effective_time", "invalid_time", "status",
    ],
    "properties": {
        "resource_pack_name": {"type": "string", "description": "the key's name"},
        "resource_pack_id": {"type": "string"},
        "resource_pack_type": {"enum": ["decreasing_total", "constant_period"]},
        "total_quantity": {"type": "number", "description": "the key's unit budget"},
        "remaining_quantity": {"type": "number", "description": "budget minus units used"},
        "purchase_time": {"type": "integer", "description": "milliseconds"},
        "effective_time": {"type": "integer", "description": "milliseconds"},
        "invalid_time": {"type": "integer", "description": "milliseconds; 0: never"},
        "status": {"enum": ["toBeOnline", "online", "expired", "runOut"]},
    },
}  # fmt: skip
ACCOUNT_COSTS = {
    "type": "object",
    "required": ["code", "msg", "resource_pack_subscribe_infos"],
    "properties": {
        "code": {"const": 0},
        "msg": {"type": "string"},
        "resource_pack_subscribe_infos": {"type": "array", "items": _ref("ResourcePack")},
    },
}
KLING_BODIES = {kind: name for kind, (name, _schema) in KIND_BODIES.items()}


def _body(schema: dict[str, Any], multipart: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    if multipart:
        content["multipart/form-data"] = {"schema": multipart}
    return {"required": True, "content": content}


def _kling_envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "code": {"const": 0},
            "message": {"const": "SUCCEED"},
            "request_id": {"type": "string"},
            "data": data,
        },
    }


def _kling_paths(prefix: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for kind in KLING_BODIES:
        paths[f"{prefix}/v1/videos/{kind}"] = {
            "post": {
                "summary": f"Create a {kind} task",
                "requestBody": _body(_ref(KLING_BODIES[kind])),
                "responses": {"200": _json(_kling_envelope(_ref("KlingTask"))), **KLING_ERRORS},
            },
            "get": {
                "summary": f"List your {kind} tasks, newest first",
                "parameters": [
                    {
                        "name": "pageNum",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    {
                        "name": "pageSize",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {
                    "200": _json(_kling_envelope({"type": "array", "items": _ref("KlingTask")})),
                    **KLING_ERRORS,
                },
            },
        }
        paths[f"{prefix}/v1/videos/{kind}/{{task_id}}"] = {
            "get": {
                "summary": f"Query one {kind} task",
                "parameters": [
                    {
                        "name": "task_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _json(_kling_envelope(_ref("KlingTask"))), **KLING_ERRORS},
            }
        }
    paths[f"{prefix}/account/costs"] = {
        "get": {
            "summary": "Your key's unit budget as Kling resource packs",
            "description": (
                "One pack for the calling key: total = its unit budget, remaining = budget "
                "minus units used (pending tasks count their estimate). A key without a budget "
                "lists no pack. The window is required (milliseconds) but a budget is not "
                "windowed. Never the studio's own upstream balance."
            ),
            "parameters": [
                {
                    "name": name,
                    "in": "query",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10**15},
                }
                for name in ("start_time", "end_time")
            ]
            + [
                {
                    "name": "resource_pack_name",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": 100},
                }
            ],
            "responses": {"200": _json(_kling_envelope(ACCOUNT_COSTS)), **KLING_ERRORS},
        }
    }
    paths[f"{prefix}/v1/videos/identify-face"] = {
        "post": {
            "summary": "Identify the faces of one of your videos (synchronous, §7.6)",
            "requestBody": _body(_ref("KlingIdentifyFace")),
            "responses": {"200": _json(_kling_envelope(FACE_SESSION)), **KLING_ERRORS},
        }
    }
    return paths


FACE_SESSION = {
    "type": "object",
    "properties": {
        "session_id": {"type": "string", "description": "the studio's; expires after 24 h"},
        "final_unit_deduction": {"type": "string"},
        "face_data": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "face_id": {"type": "string"},
                    "face_image": {"type": "string", "format": "uri"},
                    "start_time": {"type": "integer", "description": "ms"},
                    "end_time": {"type": "integer", "description": "ms"},
                },
            },
        },
    },
}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The whole document; the server URL is this studio's."""
    video_id = [{"name": "video_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Studio API",
            "version": "1.0",
            "description": (
                "Kling-native, generic and OpenAI-compatible video routes over the studio's "
                "generations. Authenticate with `Authorization: Bearer <secret>` or a Kling-style "
                "HS256 JWT (iss = access id, signed with the secret; exp is required and may be "
                f"at most {JWT_MAX_LIFETIME_SECONDS // 3600} hours ahead)."
            ),
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **dict(KIND_BODIES.values()),
                "KlingIdentifyFace": KLING_IDENTIFY_FACE,
                "KlingTask": KLING_TASK,
                "ResourcePack": RESOURCE_PACK,
                "KlingError": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "integer"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                },
                "GenericCreate": GENERIC_CREATE,
                "VideoCreate": OPENAI_CREATE,
                "Video": VIDEO,
                "OpenAIError": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "param": {"type": ["string", "null"]},
                                "code": {
                                    "type": "string",
                                    "enum": sorted(set(OPENAI_CODES.values())),
                                },
                            },
                        }
                    },
                },
            },
        },
        "paths": {
            **_kling_paths("/kling"),
            **_kling_paths(""),
            "/v1/video/generations": {
                "post": {
                    "summary": "Create (seed 002's generic shape)",
                    "requestBody": _body(_ref("GenericCreate")),
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"task_id": {"type": "string"}}}
                        ),
                        **KLING_ERRORS,
                    },
                }
            },
            "/v1/video/generations/{task_id}": {
                "get": {
                    "summary": "Query one task (status queued|processing|succeeded|failed)",
                    "parameters": [
                        {
                            "name": "task_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json({"type": "object"}), **KLING_ERRORS},
                }
            },
            "/v1/videos": {
                "post": {
                    "summary": "Create a video (multipart/form-data or JSON)",
                    "requestBody": _body(_ref("VideoCreate"), OPENAI_CREATE_MULTIPART),
                    "responses": {"200": _json(_ref("Video")), **OPENAI_ERRORS},
                },
                "get": {
                    "summary": "List your videos (cursor: after, limit, order)",
                    "parameters": [
                        {"name": "after", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 100},
                        },
                        {
                            "name": "order",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["asc", "desc"]},
                        },
                    ],
                    "responses": {"200": _json({"type": "object"}), **OPENAI_ERRORS},
                },
            },
            "/v1/videos/{video_id}": {
                "get": {
                    "summary": "One video; header openai-poll-after-ms while not finished",
                    "parameters": video_id,
                    "responses": {"200": _json(_ref("Video")), **OPENAI_ERRORS},
                },
                "delete": {
                    "summary": "Move a finished (or queued) video to the trash, as the web UI does",
                    "parameters": video_id,
                    "responses": {"200": _json({"type": "object"}), **OPENAI_ERRORS},
                },
            },
            "/v1/videos/{video_id}/content": {
                "get": {
                    "summary": "The MP4 (Range requests honoured) or the thumbnail JPEG",
                    "parameters": video_id
                    + [
                        {
                            "name": "variant",
                            "in": "query",
                            "schema": {"enum": ["video", "thumbnail"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the file",
                            "content": {"video/mp4": {}, "image/jpeg": {}},
                        },
                        "206": {"description": "a byte range of the MP4"},
                        **OPENAI_ERRORS,
                    },
                }
            },
        },
    }
