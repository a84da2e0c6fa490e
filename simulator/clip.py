"""The MP4 every succeeded simulator task points to: rendered once, then cached on disk."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from videos.rendering import RenderSpec, render_video

CLIP_VERSION = 1
_lock = threading.Lock()
_cached: bytes | None = None


def clip_bytes() -> bytes:
    """A real, short H.264 clip from the local renderer (about a second to make, once)."""
    global _cached
    with _lock:
        if _cached is not None:
            return _cached
        path = Path(tempfile.gettempdir()) / f"studio-simulator-clip-v{CLIP_VERSION}.mp4"
        if not path.exists():
            with tempfile.TemporaryDirectory(prefix="studio-sim-") as tmp:
                video, poster = Path(tmp) / "clip.mp4", Path(tmp) / "clip.jpg"
                render_video(
                    RenderSpec(prompt="kling simulator clip", duration=3), str(video), str(poster)
                )
                partial = path.with_suffix(f".{os.getpid()}.part")
                partial.write_bytes(video.read_bytes())
                os.replace(partial, path)  # atomic: concurrent processes never read half a file
        _cached = path.read_bytes()
        return _cached
