"""The caption font: one that draws Chinese and Latin, found on this machine, loaded once.

Pillow's built-in font has Latin glyphs only: a Chinese prompt came out as a row of boxes.
`make run` and `make test` install Debian's fonts-wqy-microhei (5 MB; README, "Fonts")
when no CJK font is present and they run as root; any CJK font the system already has
serves too. Nothing is fetched at run time. Without one, the built-in font draws what it
can, characters it has no glyph for are left out (never drawn as boxes), the caption says
so in a note, and a warning names the package to install.

`python -c "from videos.rendering.fonts import main; main()"` prints the font in use and
exits with status 1 when there is none (the Makefile asks it before installing one).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable

from PIL import ImageFont

log = logging.getLogger(__name__)

# (path, face index in a collection), best first. The first is what the Makefile installs,
# so captions look the same on every machine set up by it; then other common CJK fonts of
# Debian/Ubuntu, Fedora and macOS. Noto's collections put Simplified Chinese at index 2.
KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("/System/Library/Fonts/Hiragino Sans GB.ttc", 0),
)
DEBIAN_PACKAGE = "fonts-wqy-microhei"
FALLBACK_NOTE = f"(no CJK font installed: characters left out; install {DEBIAN_PACKAGE})"
# A code point no font maps (the last private-use one): what a missing glyph looks like.
UNMAPPED = "\U0010fffd"
# FreeType faces are not safe to use from two threads at once; captions are drawn once
# per clip, so one lock costs nothing.
LOCK = threading.Lock()


@functools.cache
def find_cjk_font() -> tuple[str, int] | None:
    """The CJK font file to use and its face index, or None (warned about once)."""
    found = first_font(KNOWN_FONTS) or first_font(_fontconfig_fonts())
    if found is None:
        log.warning(
            "No CJK font found: Chinese and Japanese characters in captions are left out. "
            "Install one, e.g. `apt-get install %s` (make run does this as root).",
            DEBIAN_PACKAGE,
        )
    return found


def first_font(candidates: Iterable[tuple[str, int]]) -> tuple[str, int] | None:
    """The first candidate that exists and that FreeType opens."""
    for path, index in candidates:
        if not os.path.isfile(path):
            continue
        try:
            ImageFont.truetype(path, 12, index=index)
        except OSError:
            continue
        return path, index
    return None


def _fontconfig_fonts() -> list[tuple[str, int]]:
    """Fonts that fontconfig says cover Chinese, if fc-list is installed."""
    try:
        listed = subprocess.run(
            ["fc-list", "-f", "%{file}|%{index}\n", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fonts = []
    for line in sorted(listed.splitlines()):  # sorted: the same choice on every run
        path, _, index = line.partition("|")
        fonts.append((path, int(index) if index.isdigit() else 0))
    return fonts


@functools.lru_cache(maxsize=8)
def caption_font(size: int) -> ImageFont.FreeTypeFont:
    """The caption font at size pixels: the CJK font, else Pillow's built-in one.

    Basic layout, not Raqm: captions need no complex-script shaping, and with a CJK
    collection Raqm took about 1 ms per measurement against 20 us (wrapping measures
    every candidate line).
    """
    found = find_cjk_font()
    if found is None:
        return ImageFont.load_default(size=size)
    path, index = found
    return ImageFont.truetype(path, size, index=index, layout_engine=ImageFont.Layout.BASIC)


def has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """Whether font draws char as itself rather than as its missing-glyph box."""
    return _has_glyph(font, char)


@functools.lru_cache(maxsize=8192)
def _has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    if char.isspace():
        return True
    missing = _missing_glyph(font)
    # A bounding box is cheap to get; the bitmap is compared only when it matches.
    if font.getbbox(char) != missing[0]:
        return True
    mask = font.getmask(char)
    return (mask.size, bytes(mask)) != missing[1:]


@functools.lru_cache(maxsize=8)
def _missing_glyph(font: ImageFont.FreeTypeFont) -> tuple[object, tuple[int, int], bytes]:
    mask = font.getmask(UNMAPPED)
    return font.getbbox(UNMAPPED), mask.size, bytes(mask)


def main() -> None:
    """Print the caption font in use; exit with status 1 when there is none."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    found = find_cjk_font()
    if found is None:
        sys.exit(1)
    print(f"{found[0]} (face {found[1]})")
