"""Claim: the local renderer makes every kind of clip in at most half its running time.

Run: .venv/bin/python bench/render_speed.py [--repeats N]   (exits 1 if a goal is missed)
Every line's baseline is the clip's own duration: a ratio of 0.50 renders twice as fast as
real time. Wall time covers a render end to end: inputs decoded, scenes drawn, frames, x264
and AAC, faststart rewrite, poster, hash. Goals (issue 10): 0.50 for every kind; 0.35 for
pro (1080p) and for perspective camera moves.

The CPU column is the process's CPU seconds over the clip's duration: on a machine shared
with other work, wall ratios grow with the load average while CPU ratios barely move, so
compare CPU ratios between runs made under different loads.
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from videos.rendering import (  # noqa: E402
    Reference,
    ReferenceVideo,
    RenderSpec,
    VideoMeta,
    render_effect,
    render_extension,
    render_lip_sync,
    render_multi_image,
    render_omni,
    render_video,
)

HALF = 0.50
PRO_GOAL = 0.35
PROMPT = "A red fox trotting along a snowy ridge at dawn, soft light, cinematic"
SHOTS_5 = [("A fox wakes in its den", 2), ("It crosses a frozen stream", 2), ("Dawn", 1)]
SHOTS_10 = [("A fox wakes in its den", 3), ("It crosses a frozen stream", 3), ("Dawn", 4)]


def measure(render: Callable[[str], VideoMeta], repeats: int, folder: str) -> tuple:
    """Median wall and CPU seconds of render (given an output base path), and its meta."""
    walls, cpus = [], []
    for n in range(repeats):
        base = os.path.join(folder, f"out-{n}")
        started, cpu = time.perf_counter(), time.process_time()
        meta = render(base)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), meta


def report(
    label: str, render: Callable[[str], VideoMeta], goal: float, repeats: int, folder: str
) -> bool:
    """Print one result line; True if the goal is met."""
    wall, cpu, meta = measure(render, repeats, folder)
    ratio = wall / meta.duration
    sound = "sound" if meta.has_audio else "silent"
    met = ratio <= goal
    print(
        f"render {label}: {wall:.2f} s wall = {ratio:.2f} x clip duration (goal <= {goal:.2f}"
        f"{'' if met else ', MISSED'}); cpu {cpu:.2f} s = {cpu / meta.duration:.2f} x;"
        f" {meta.duration:.1f} s {meta.width}x{meta.height} {sound}  [median of {repeats},"
        f" load {os.getloadavg()[0]:.2f}]",
        flush=True,
    )
    return met


def make_inputs(folder: str) -> dict[str, str]:
    """Photos, a voice line and parent clips for the kinds that start from files."""
    inputs: dict[str, str] = {}
    for name, colour in (
        ("red", (190, 40, 40)),
        ("green", (40, 170, 60)),
        ("blue", (40, 60, 190)),
        ("gold", (200, 160, 40)),
    ):
        image = Image.new("RGB", (1600, 1200), colour)
        draw = ImageDraw.Draw(image)
        draw.ellipse((200, 200, 800, 800), fill=(240, 240, 220))
        draw.rectangle((1000, 300, 1400, 1000), fill=(20, 20, 20))
        inputs[name] = os.path.join(folder, f"{name}.jpg")
        image.save(inputs[name], quality=90)
    inputs["voice"] = _voice_line(os.path.join(folder, "voice.m4a"), seconds=5)
    for seconds in (5, 10):
        path = os.path.join(folder, f"parent-{seconds}.mp4")
        render_video(RenderSpec(prompt=PROMPT, duration=seconds, sound=True), path, path + ".jpg")
        inputs[f"parent-{seconds}"] = path
    return inputs


def _voice_line(path: str, seconds: int) -> str:
    """A 44.1 kHz stereo AAC voice stand-in: a 200 Hz tone that swells and fades."""
    rate = 44100
    with av.open(path, "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        for start in range(0, seconds * rate, 1024):
            count = min(1024, seconds * rate - start)
            values = array(
                "f",
                (
                    0.4
                    * math.sin(math.tau * 200 * (start + i) / rate)
                    * abs(math.sin(math.tau * 2 * (start + i) / rate))
                    for i in range(count)
                    for _ in range(2)
                ),
            )
            frame = av.AudioFrame(format="flt", layout="stereo", samples=count)
            data = values.tobytes()
            frame.planes[0].update(data + bytes(frame.planes[0].buffer_size - len(data)))
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def cases(inputs: dict[str, str]) -> list[tuple[str, Callable[[str], VideoMeta], float, int]]:
    """(label, render, goal, repeats): today's kinds first, then issue 10's."""

    def video(**fields: object) -> Callable[[str], VideoMeta]:
        spec = RenderSpec(**{"prompt": PROMPT, **fields})
        return lambda base: render_video(spec, base + ".mp4", base + ".jpg")

    images = [inputs[name] for name in ("red", "green", "blue", "gold")]
    return [
        ("5s 16:9 std", video(), HALF, 5),
        ("10s 16:9 std", video(duration=10), HALF, 3),
        ("5s 16:9 pro", video(mode="pro"), PRO_GOAL, 3),
        (
            "5s 16:9 std right_turn_forward (perspective warp)",
            video(camera_control={"type": "right_turn_forward"}),
            PRO_GOAL,
            3,
        ),
        ("5s 16:9 std sound + 2 voices", video(sound=True, voices=["v_amy", "v_bob"]), HALF, 3),
        ("10s 16:9 std sound", video(duration=10, sound=True), HALF, 3),
        ("5s 16:9 std three shots + sound", video(prompt="", shots=SHOTS_5, sound=True), HALF, 3),
        (
            "10s 16:9 std three shots + sound",
            video(prompt="", duration=10, shots=SHOTS_10, sound=True),
            HALF,
            3,
        ),
        (
            "5s 16:9 pro three shots + sound",
            video(prompt="", mode="pro", shots=SHOTS_5, sound=True),
            HALF,
            2,
        ),
        (
            "extend a 10s clip (+5 s: 15 s out)",
            lambda base: render_extension(
                inputs["parent-10"], RenderSpec(prompt="it runs on"), base + ".mp4", base + ".jpg"
            ),
            HALF,
            3,
        ),
        (
            "lip-sync over a 5s clip",
            lambda base: render_lip_sync(
                inputs["parent-5"],
                inputs["voice"],
                base + ".mp4",
                base + ".jpg",
                sound_start_ms=0,
                sound_end_ms=4000,
                insert_ms=500,
            ),
            HALF,
            3,
        ),
        (
            "multi-image 4 images 5s",
            lambda base: render_multi_image(
                images, RenderSpec(prompt=PROMPT), base + ".mp4", base + ".jpg"
            ),
            HALF,
            3,
        ),
        (
            "omni 5s first+end frames, 2 reference tiles",
            lambda base: render_omni(
                RenderSpec(prompt=PROMPT, first_frame=images[0], last_frame=images[1]),
                base + ".mp4",
                base + ".jpg",
                references=[Reference("image_3", images[2]), Reference("element_1")],
            ),
            HALF,
            3,
        ),
        (
            "omni 10s base video kept sound",
            lambda base: render_omni(
                RenderSpec(prompt="moody"),
                base + ".mp4",
                base + ".jpg",
                video=ReferenceVideo(inputs["parent-10"], "base", True),
            ),
            HALF,
            3,
        ),
        (
            "effect 5s single (bullet_time)",
            lambda base: render_effect("bullet_time", images[:1], base + ".mp4", base + ".jpg"),
            HALF,
            3,
        ),
        (
            "effect 5s dual (hug_pro)",
            lambda base: render_effect("hug_pro", images[:2], base + ".mp4", base + ".jpg"),
            HALF,
            3,
        ),
    ]


def main() -> int:
    """Run the measurements; non-zero exit if a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="renders per line (default: 2 to 5)")
    parser.add_argument("--only", help="run only the lines whose label contains this")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    missed = []
    with tempfile.TemporaryDirectory(prefix="render-speed-") as folder:
        inputs = make_inputs(folder)  # untimed; also pays imports and first-use setup
        for label, render, goal, repeats in cases(inputs):
            if args.only and args.only not in label:
                continue
            if not report(label, render, goal, args.repeats or repeats, folder):
                missed.append(label)
    load = os.getloadavg()[0]
    print(f"load average after: {load:.2f}")
    if load > (os.cpu_count() or 1):
        print(
            "note: the machine was busy (load above its cpus): wall ratios overstate; "
            "compare the cpu ratios"
        )
    if missed:
        print(f"FAIL: {len(missed)} goal(s) missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
