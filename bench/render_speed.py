"""Claim: the local renderer makes a 5 s 16:9 std clip in at most half its running time.

Run: .venv/bin/python bench/render_speed.py   (exits 1 if the 5 s std goal is missed)
The baseline is the clip's own duration: a ratio of 0.50 renders twice as fast as real time.
Wall time covers render_video end to end: scene, frames, x264, faststart rewrite, poster, hash.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from videos.rendering import RenderSpec, render_video  # noqa: E402

GOAL = 0.50
PROMPT = "A red fox trotting along a snowy ridge at dawn, soft light, cinematic"


def measure(spec: RenderSpec, repeats: int, folder: str) -> float:
    """Median wall seconds of render_video for spec."""
    times = []
    for n in range(repeats):
        started = time.perf_counter()
        render_video(spec, os.path.join(folder, f"{n}.mp4"), os.path.join(folder, f"{n}.jpg"))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(label: str, spec: RenderSpec, repeats: int, folder: str, goal: bool = False) -> float:
    """Print one result line and return the ratio to the clip's duration."""
    seconds = measure(spec, repeats, folder)
    ratio = seconds / spec.duration
    target = f" (goal <= {GOAL:.2f})" if goal else ""
    print(
        f"render {label}: {seconds:.2f} s wall = {ratio:.2f} x clip duration{target}"
        f"  [median of {repeats}]",
        flush=True,
    )
    return ratio


def main() -> int:
    """Run the measurements; non-zero exit if the 5 s std goal is missed."""
    print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="render-speed-") as folder:
        # One untimed render first: imports, font loading and FFmpeg's first-use setup are
        # paid once per worker process, not per clip.
        render_video(
            RenderSpec(prompt=PROMPT, duration=3),
            os.path.join(folder, "warm.mp4"),
            os.path.join(folder, "warm.jpg"),
        )
        ratio = report("5s 16:9 std", RenderSpec(prompt=PROMPT), 5, folder, goal=True)
        report("10s 16:9 std", RenderSpec(prompt=PROMPT, duration=10), 3, folder)
        report("5s 16:9 pro", RenderSpec(prompt=PROMPT, mode="pro"), 3, folder)
        turn = RenderSpec(prompt=PROMPT, camera_control={"type": "right_turn_forward"})
        report("5s 16:9 std right_turn_forward (perspective warp)", turn, 3, folder)
    if ratio > GOAL:
        print(f"FAIL: 5s std took {ratio:.2f} x its duration, goal is <= {GOAL:.2f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
