"""identify-face and advanced-lip-sync (kling-kinds.md §7.6) as the simulated account checks them.

Sessions belong to the account that identified the faces and expire; the voice line is
measured as the studio's renderer decodes it.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from typing import Any

from videos.rendering.audio import voice_line_ms
from videos.rendering.spec import RenderError

from .common import check_misc, is_number

KNOWN_FIELDS = {"session_id", "face_choose", "callback_url", "external_task_id", "watermark_info"}
FACE_FIELDS = {
    "face_id",
    "audio_id",
    "sound_file",
    "sound_start_time",
    "sound_end_time",
    "sound_insert_time",
    "sound_volume",
    "original_audio_volume",
}
MAX_SOUND_BYTES = 5 * 1024 * 1024
SLACK_MS = 40  # decoders disagree by a frame about a file's length


def check_identify(body: Any, account: Any) -> tuple[str | None, Any]:
    """(message of a 1201, None) or (None, the video): exactly one of video_id, video_url."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object", None
    unknown = set(body) - {"video_id", "video_url"}
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}", None
    if ("video_id" in body) == ("video_url" in body):
        return "exactly one of video_id and video_url is required", None
    if "video_url" in body:
        url = body["video_url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return "video_url must be an http(s) URL", None
        return None, None
    video = account.video(body["video_id"]) if isinstance(body["video_id"], str) else None
    if video is None:
        return f"video_id {body['video_id']} does not exist on this account", None
    if video.seconds > 60:
        return f"video_id {video.video_id} is longer than 60 s", None
    if video.age_seconds >= 30 * 86400:
        return f"video_id {video.video_id} is older than 30 days", None
    return None, video


def _sound_ms(value: Any) -> int | str:
    """The voice line's length in ms, or what is wrong with it (URLs are trusted: 10 s)."""
    if not isinstance(value, str) or not value:
        return "face_choose[0].sound_file must be a URL or Base64 string"
    if value.startswith(("http://", "https://")):
        return 10_000
    if value.startswith("data:"):
        return "face_choose[0].sound_file must be raw Base64 without a data: prefix"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "face_choose[0].sound_file is not valid Base64"
    if len(raw) > MAX_SOUND_BYTES:
        return "face_choose[0].sound_file is larger than 5 MB"
    with tempfile.NamedTemporaryFile(suffix=".sound") as tmp:
        tmp.write(raw)
        tmp.flush()
        try:
            length = voice_line_ms(tmp.name, "face_choose[0].sound_file")
        except RenderError as exc:
            return str(exc)
    if not 2000 <= length <= 60000 + SLACK_MS:
        return f"face_choose[0].sound_file lasts {length} ms; it must be 2..60 s"
    return length


def check(kind: str, body: Any, *, gateway: bool, account: Any = None) -> str | None:
    """The first rule an advanced-lip-sync body breaks; account answers session(id)."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    session_id = body.get("session_id")
    session = account.session(session_id) if account and isinstance(session_id, str) else None
    if session is None:
        return f"session_id {session_id} does not exist on this account"
    if session.expired:
        return f"session_id {session_id} has expired"
    choose = body.get("face_choose")
    if not isinstance(choose, list) or len(choose) != 1 or not isinstance(choose[0], dict):
        return "face_choose must hold exactly one entry"
    face = choose[0]
    if set(face) - FACE_FIELDS:
        return f"face_choose[0] has unknown field(s): {', '.join(sorted(set(face) - FACE_FIELDS))}"
    known = session.faces.get(face.get("face_id"))
    if known is None:
        return f"face_choose[0].face_id {face.get('face_id')} is not a face of this session"
    if ("audio_id" in face) == ("sound_file" in face):
        return "face_choose[0] needs exactly one of audio_id and sound_file"
    length = 10_000 if "audio_id" in face else _sound_ms(face["sound_file"])
    if isinstance(length, str):
        return length
    times = {}
    for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
        value = face.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"face_choose[0].{name} is required, in whole ms"
        times[name] = value
    start, end, insert = (
        times["sound_start_time"],
        times["sound_end_time"],
        times["sound_insert_time"],
    )
    if end - start < 2000:
        return "face_choose[0].sound_end_time - sound_start_time must be at least 2000 ms"
    if end > length + SLACK_MS:
        return f"face_choose[0].sound_end_time {end} is after the sound's end ({length} ms)"
    span = end - start
    if insert + span > session.video_ms + SLACK_MS:
        return "face_choose[0].sound_insert_time: the sound runs past the video's end"
    face_start, face_end = known
    if min(insert + span, face_end) - max(insert, face_start) < 2000:
        return "face_choose[0].sound_insert_time: the sound must overlap the face by 2000 ms"
    for name in ("sound_volume", "original_audio_volume"):
        value = face.get(name)
        if value is not None and (not is_number(value) or not 0 <= value <= 2):
            return f"face_choose[0].{name} must be a number in [0, 2]"
    return check_misc(kind, body, "")
