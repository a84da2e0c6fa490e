"""The built-in local video renderer: Kling-like parameters in, a real MP4 out, offline.

Free of Django so any process (web, worker, bench) can import it. Every function below
writes an H.264 (yuv420p, BT.709) MP4 with its moov box first to video_path and a JPEG of
the frame one second in to poster_path, and returns the file's VideoMeta (duration, size,
fps, bytes, sha256, has_audio, audio_duration). Sound, when there is any, is AAC-LC mono at
48 kHz; without sound there is no audio stream at all. The same inputs always give the same
bytes. Bad input raises RenderError with a message naming the field; nothing is left at
video_path then.

One function per Kling kind (kling-kinds.md §7):

- text2video, image2video: ``render_video(spec, video_path, poster_path)``.
  RenderSpec carries Kling's fields: prompt, negative_prompt, duration (3..15 s),
  aspect_ratio, mode (std 720p / pro 1080p), camera_control, cfg_scale, model_name,
  first_frame/last_frame (file paths), plus
  ``sound`` (bool: a tone pitched from the prompt), ``voices`` (voice ids, at most two,
  each a beep pattern of its own; needs sound) and ``shots`` ((prompt, whole seconds)
  pairs summing to duration: a hard cut at each boundary, each shot its own scene
  captioned "shot i/n", its own tone; for shot_type intelligence pass ceil(duration / 5)
  shots yourself). With shots, first_frame opens shot 1 and last_frame is refused.
- video-extend: ``render_extension(parent_video_path, spec, video_path, poster_path)``:
  the parent's frames (decoded, re-encoded, its sound kept) then EXTEND_SECONDS (5 s)
  pushing in on its last frame, captioned "+5 s". Uses spec's prompt, sound and voices only.
- multi-image2video: ``render_multi_image(images, spec, video_path, poster_path)``: 1..4
  image paths in turn over spec.duration, each pushed in on, crossfading.
- omni-video: ``render_omni(spec, video_path, poster_path, references=(), video=None)``:
  references are ``Reference(label, path)`` tiles labelled image_1... (path None: an
  element, a grey tile); spec.first_frame/last_frame are the first_frame/end_frame images
  (crossfade); ``ReferenceVideo(path, "base", keep_original_sound)`` re-encodes the video
  at its own length, tinted, its sound kept iff keep_original_sound;
  ``ReferenceVideo(path, "feature")`` continues from its last frame for spec.duration
  (with shots, shot 1 opens on it). sound must be off with a video.
- identify-face: ``identify_faces(video_path) -> [Face(face_id="0", face_image=JPEG bytes,
  start_time=0, end_time=clip length in ms)]``.
- advanced-lip-sync: ``render_lip_sync(video_path, audio_path, video_out, poster_out, *,
  sound_start_ms, sound_end_ms, insert_ms, sound_volume=1, original_audio_volume=1)``:
  the clip with the voice line (mp3/wav/m4a/aac) cropped to [start, end) mixed in at
  insert_ms over its own sound, a face whose mouth opens with the voice's loudness.
- effects: ``render_effect(scene, images, video_path, poster_path, mode="std")``: 5 s of a
  transform picked by the scene name, captioned with it; two images stand side by side.

The local provider hands over a strict Kling create body instead: ``render_request(kind, body,
files, workdir)`` reads it as Kling would and calls the function of its kind (requests.py).

For stored or downloaded files: ``probe_video(path)`` and ``make_poster(video, poster)``;
for a voice line's length as the lip-sync render hears it: ``voice_line_ms(path)``.
"""

from .audio import voice_line_ms
from .effects import EFFECT_SECONDS, render_effect
from .extend import EXTEND_SECONDS, render_extension
from .lip_sync import Face, identify_faces, render_lip_sync
from .multi_image import render_multi_image
from .omni import Reference, ReferenceVideo, render_omni
from .probe import make_poster, probe_video
from .render import render_video
from .requests import render_request
from .spec import RenderError, RenderSpec, VideoMeta

__all__ = [
    "EFFECT_SECONDS",
    "EXTEND_SECONDS",
    "Face",
    "Reference",
    "ReferenceVideo",
    "RenderError",
    "RenderSpec",
    "VideoMeta",
    "identify_faces",
    "make_poster",
    "probe_video",
    "render_effect",
    "render_extension",
    "render_lip_sync",
    "render_multi_image",
    "render_omni",
    "render_request",
    "render_video",
    "voice_line_ms",
]
