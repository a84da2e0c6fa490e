"""The built-in local video renderer: Kling-like parameters in, a real H.264 MP4 out.

Free of Django so any process (web, worker, bench) can import it. render_request reads a
strict Kling create body (what the local provider receives); render_video takes a RenderSpec.
"""

from .probe import make_poster, probe_video
from .render import render_video
from .requests import render_request
from .spec import RenderError, RenderSpec, VideoMeta

__all__ = [
    "RenderError",
    "RenderSpec",
    "VideoMeta",
    "make_poster",
    "probe_video",
    "render_request",
    "render_video",
]
