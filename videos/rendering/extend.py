"""video-extend (kling-kinds.md §7.5): the parent clip, then five more seconds from its end."""

from collections.abc import Iterator

from .audio import SAMPLES_PER_FRAME, decode_soundtrack, silence, soundtrack
from .camera import Move
from .encode import FrameJob, write_video
from .footage import open_footage
from .render import picture_scene, scene_jobs
from .spec import FPS, RenderSpec, VideoMeta

EXTEND_SECONDS = 5
# Kling's result is the whole video and at most three minutes long.
MAX_RESULT_SECONDS = 180
# The continuation pushes in on the parent's last frame, so the cut is invisible: frame one
# of the new part is the parent's final picture.
PUSH = Move(zoom=-3)


def render_extension(
    parent_video_path: str, spec: RenderSpec, video_path: str, poster_path: str
) -> VideoMeta:
    """The parent's frames (re-encoded, its sound kept) followed by EXTEND_SECONDS more.

    Only spec's prompt, sound and voices count: the size, rate and mode are the parent's.
    The new part is captioned "+5 s" (with the prompt) and, with spec.sound, carries the
    prompt's tone; otherwise it is silent after a parent with sound, and the whole file has
    no audio stream after a silent parent.
    """
    spec.validate_sound()
    parent = open_footage(
        parent_video_path, "parent video", max_seconds=MAX_RESULT_SECONDS - EXTEND_SECONDS
    )
    added = EXTEND_SECONDS * FPS
    label = f"+{EXTEND_SECONDS} s"
    caption = f"{label}: {spec.prompt}" if spec.prompt.strip() else label

    def jobs() -> Iterator[FrameJob]:
        for frame in parent.pictures():
            yield lambda frame=frame: frame
        # Only now, with the parent decoded to its end, is its last frame known.
        scene = picture_scene(parent.last_image(), parent.size, added, PUSH, caption, opaque=True)
        yield from scene_jobs([scene])

    original = decode_soundtrack(parent_video_path)
    audio = None
    if original is not None or spec.sound:
        length = parent.frames * SAMPLES_PER_FRAME
        head = (original if original is not None else silence(0))[:length]
        head += silence(length - len(head))
        tail = soundtrack([(spec.prompt, added)], spec.voices) if spec.sound else silence(0)
        audio = head + tail
    return write_video(parent.size, jobs(), video_path, poster_path, audio)
