"""omni-video (kling-kinds.md §7.3): every rule, the API, the upstream body, the local render."""

from __future__ import annotations

import base64
import copy
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from simulator import Simulator
from simulator.rules import ModelNotFound, check_create
from simulator.rules.omni import O1_DURATION
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import image_bytes, upload
from tests.renders import audio_streams, frames_of, mean_colour
from videos.kinds.omni_video import OmniVideoForm
from videos.models import Generation, GenerationInput, Status
from videos.rendering import RenderSpec, render_video

PHOTO = base64.b64encode(image_bytes(640, 480)).decode()
CLIP_URL = "https://media.example.com/clip.mp4"
ROUTES = ["/v1/videos/omni-video", "/kling/v1/videos/omni-video"]
# Creates as kling-kinds.md §7.3 describes them, one per use of the kind.
SEEDS = {
    "o1_references": {
        "model_name": "kling-video-o1",
        "prompt": "<<<image_1>>> walks through <<<image_2>>>",
        "image_list": [{"image_url": PHOTO}, {"image_url": PHOTO}],
        "mode": "std",
        "aspect_ratio": "1:1",
        "duration": "7",
        "external_task_id": "omni-refs",
    },
    "o1_first_and_end_frame": {
        "prompt": "the door opens",
        "image_list": [
            {"image_url": PHOTO, "type": "first_frame"},
            {"image_url": PHOTO, "type": "end_frame"},
        ],
        "duration": "10",
    },
    "v3_feature_video_and_element": {
        "model_name": "kling-v3-omni",
        "prompt": "the next shot after <<<video_1>>>, with <<<element_1>>>",
        "element_list": [{"element_id": 123456789012}],
        "video_list": [
            {"video_url": CLIP_URL, "refer_type": "feature", "keep_original_sound": "no"}
        ],
        "sound": "off",
        "mode": "pro",
        "aspect_ratio": "16:9",
        "duration": "8",
        "watermark_info": {"enabled": True},
    },
    "o1_base_video": {
        "prompt": "make <<<video_1>>> snowy",
        "video_list": [{"video_url": CLIP_URL, "refer_type": "base", "keep_original_sound": "yes"}],
    },
    "v3_multi_shot_customize": {
        "model_name": "kling-v3-omni",
        "prompt": "",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a fox wakes", "duration": "4"},
            {"index": 2, "prompt": "it runs", "duration": "8"},
        ],
        "sound": "on",
        "duration": "12",
        "aspect_ratio": "9:16",
    },
    "v3_multi_shot_intelligence": {
        "model_name": "kling-v3-omni",
        "prompt": "a day at the beach",
        "multi_shot": "true",
        "shot_type": "intelligence",
        "duration": "15",
    },
}


def form(data: dict, files: dict | None = None, **kwargs) -> OmniVideoForm:
    bound = OmniVideoForm(data, files or {}, **kwargs)
    bound.is_valid()
    return bound


# ---- the rules, through the API (each one names its field, writes nothing) ---------------------
@pytest.mark.django_db
@pytest.mark.parametrize("name", SEEDS)
@pytest.mark.parametrize("route", ROUTES)
def test_the_api_accepts_each_documented_body_verbatim(route: str, name: str, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), route, SEEDS[name], secret)
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    body = SEEDS[name]
    assert generation.kind == "omni-video"
    assert generation.model_name == body.get("model_name", "kling-video-o1")
    assert generation.mode == body.get("mode", "pro")  # §7.3: pro by default
    rows = list(GenerationInput.objects.filter(generation=generation).order_by("role", "position"))
    images = [r for r in rows if r.role == "image"]
    assert [r.meta.get("type", "") for r in images] == [
        i.get("type", "") for i in body.get("image_list", [])
    ]
    videos = [r for r in rows if r.role == "video"]
    assert [(v.url, v.meta) for v in videos] == [
        (v["video_url"], {k: v[k] for k in ("refer_type", "keep_original_sound")})
        for v in body.get("video_list", [])
    ]


@pytest.mark.django_db
def test_the_api_stores_what_each_body_means(user) -> None:
    _key, secret = issue(user)
    created = {}
    for name in ("o1_references", "v3_feature_video_and_element", "o1_base_video"):
        answer = post_json(Client(), ROUTES[0], SEEDS[name], secret)
        created[name] = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    refs = created["o1_references"]
    assert (refs.duration, refs.params) == (7, {"aspect_ratio": "1:1"})
    feature = created["v3_feature_video_and_element"]
    assert feature.params == {
        "aspect_ratio": "16:9",
        "element_list": [123456789012],
        "watermark_info": {"enabled": True},
    }
    assert (feature.duration, feature.sound) == (8, False)
    base = created["o1_base_video"]
    assert base.params == {}  # the video decides the shape and the length


def _changed(name: str, **change: object) -> dict:
    body = copy.deepcopy(SEEDS[name])
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


FRAMES = [{"image_url": PHOTO, "type": "first_frame"}, {"image_url": PHOTO, "type": "end_frame"}]
REFS = [{"image_url": PHOTO}]
FEATURE = [{"video_url": CLIP_URL, "refer_type": "feature"}]
BASE = [{"video_url": CLIP_URL}]
RULES = [
    # (body, the API's message: the field first)
    (
        _changed("o1_references", image_list=REFS * 8),
        "image_list: At most 7 entries.",
    ),
    (
        _changed("o1_references", image_list=REFS * 5, element_list=[{"element_id": 1}] * 3),
        "image_list: at most 7 images and elements in all, got 8.",
    ),
    (
        _changed("v3_feature_video_and_element", image_list=REFS * 4),
        "image_list: at most 4 images and elements with a video, got 5.",
    ),
    (
        _changed("o1_first_and_end_frame", image_list=[FRAMES[0], FRAMES[0]]),
        "image_list: at most one first_frame and one end_frame.",
    ),
    (
        _changed("o1_first_and_end_frame", image_list=[FRAMES[1]]),
        "image_list: an end_frame needs a first_frame.",
    ),
    (
        _changed("o1_first_and_end_frame", image_list=[*FRAMES, *REFS]),
        "image_list: kling-video-o1 takes first or end frames only with at most 2 images.",
    ),
    (
        _changed("o1_first_and_end_frame", image_list=[{"image_url": PHOTO, "type": "last"}]),
        "image_list: image_list[0].type must be first_frame or end_frame (left out: a reference "
        "image).",
    ),
    (
        _changed(
            "o1_first_and_end_frame",
            image_list=FRAMES[:1],
            element_list=[{"element_id": n} for n in range(1, 5)],
        ),
        "element_list: at most 3 elements with frames.",
    ),
    (
        _changed("o1_first_and_end_frame", element_list=[{"element_id": 7}]),
        "element_list: kling-video-o1 takes no elements with first and end frames.",
    ),
    (
        _changed("o1_references", element_list=[{"element_id": "x"}]),
        'element_list: element_list[0] must be {"element_id": a positive whole number}.',
    ),
    (
        _changed("v3_multi_shot_intelligence", model_name="kling-video-o1", duration="10"),
        "multi_shot: kling-video-o1 does not do multi-shot.",
    ),
    (
        _changed("v3_multi_shot_intelligence", image_list=FRAMES[:1]),
        "image_list: multi-shot takes no first_frame or end_frame.",
    ),
    (
        _changed("v3_multi_shot_intelligence", shot_type=None),
        "shot_type: shot_type is required with multi_shot: customize or intelligence.",
    ),
    (
        _changed("v3_multi_shot_intelligence", prompt=""),
        "prompt: prompt is required with shot_type intelligence.",
    ),
    (
        _changed("v3_multi_shot_customize", multi_prompt=None),
        "multi_prompt: multi_prompt is required with shot_type customize.",
    ),
    (
        _changed("v3_multi_shot_customize", duration="15"),
        "multi_prompt: durations sum to 12, duration is 15.",
    ),
    (
        _changed(
            "v3_multi_shot_customize",
            multi_prompt=[{"index": 2, "prompt": "a", "duration": "12"}],
        ),
        "multi_prompt: multi_prompt[0].index must be 1 (shots are numbered 1..n in order).",
    ),
    (
        _changed(
            "v3_multi_shot_customize",
            multi_prompt=[{"index": 1, "prompt": " ", "duration": "12"}],
        ),
        "multi_prompt: multi_prompt[0].prompt is empty.",
    ),
    (
        _changed("v3_multi_shot_intelligence", multi_shot="maybe"),
        "multi_shot: Enter true or false.",
    ),
    (
        _changed("v3_feature_video_and_element", sound="on"),
        "sound: Sound is off when there is a video.",
    ),
    (
        _changed("o1_references", sound="on"),
        "sound: kling-video-o1 does not make sound here.",
    ),
    (
        _changed("o1_base_video", image_list=FRAMES[:1]),
        "video_list: a base video takes no first_frame or end_frame.",
    ),
    (
        _changed("o1_base_video", video_list=[{"video_url": CLIP_URL, "refer_type": "style"}]),
        "video_list: video_list[0].refer_type must be base or feature.",
    ),
    (
        _changed("o1_base_video", video_list=[{"video_url": "ftp://example.com/a.mp4"}]),
        "video_list: video_list[0].video_url must be an http(s) URL (Kling takes no upload).",
    ),
    (
        _changed("o1_base_video", video_list=[*BASE, *BASE]),
        "video_list: At most 1 entries.",
    ),
    (
        _changed(
            "o1_base_video",
            video_list=[{"video_url": CLIP_URL, "keep_original_sound": "maybe"}],
        ),
        "video_list: video_list[0].keep_original_sound must be yes or no.",
    ),
    (
        _changed("o1_first_and_end_frame", duration="7"),
        "duration: Duration only supports 5 or 10 seconds when no refer_image is provided.",
    ),
    (
        _changed("o1_references", duration="12"),
        "duration: kling-video-o1 supports durations of 3, 4, 5, 6, 7, 8, 9, 10 seconds.",
    ),
    (
        _changed("v3_feature_video_and_element", duration="12"),
        "duration: kling-v3-omni makes 3..10 seconds with a feature video.",
    ),
    (
        _changed("o1_references", prompt="<<<image_1>>> meets <<<image_3>>>"),
        "prompt: <<<image_3>>> has no matching entry (2 images given).",
    ),
    (
        _changed("o1_references", prompt="in <<<video_1>>>"),
        "prompt: <<<video_1>>> has no matching entry (0 videos given).",
    ),
    (
        _changed("o1_references", prompt="with <<<element_1>>>"),
        "prompt: <<<element_1>>> has no matching entry (0 elements given).",
    ),
    (
        _changed(
            "v3_multi_shot_customize",
            multi_prompt=[{"index": 1, "prompt": "<<<image_1>>>", "duration": "12"}],
        ),
        "multi_prompt: <<<image_1>>> has no matching entry (0 images given).",
    ),
    (_changed("o1_references", prompt=None), "prompt: Describe the video: a prompt is required."),
    (_changed("o1_references", aspect_ratio="4:3"), None),
    (_changed("o1_references", mode="turbo"), None),
    (
        _changed("o1_references", negative_prompt="blur"),
        "negative_prompt: is not a field of this request",
    ),
    (_changed("o1_references", cfg_scale=0.5), "cfg_scale: is not a field of this request"),
    (
        _changed("o1_references", image_list=[{"image_url": PHOTO, "role": "x"}]),
        "image_list[0].role: is not a field of this request",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "message"), RULES, ids=[r[1] or "enum" for r in RULES])
def test_the_api_refuses_each_rule_naming_the_field(body: dict, message: str | None, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), ROUTES[0], body, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    if message is not None:
        assert answer.json()["message"] == message
    assert not Generation.objects.exists() and not GenerationInput.objects.exists()


@pytest.mark.django_db
def test_an_unknown_model_is_404_1203(user) -> None:
    _key, secret = issue(user)
    answer = post_json(
        Client(), ROUTES[1], _changed("o1_references", model_name="kling-o9"), secret
    )
    assert (answer.status_code, answer.json()["code"]) == (404, 1203)


@pytest.mark.django_db
def test_o1_with_a_reference_takes_any_length_from_3_to_10() -> None:
    for seconds in (3, 7, 10):
        assert form({**SEEDS["o1_references"], "duration": seconds}, api=True).is_valid()
    frames_only = form({**SEEDS["o1_first_and_end_frame"], "duration": "5"}, api=True)
    assert frames_only.is_valid(), frames_only.errors


@pytest.mark.django_db
def test_the_first_frame_or_base_video_decides_the_shape() -> None:
    with_frame = form({**SEEDS["o1_first_and_end_frame"], "aspect_ratio": "9:16"}, api=True)
    assert with_frame.is_valid() and "aspect_ratio" not in with_frame.params()
    refs = form({key: v for key, v in SEEDS["o1_references"].items() if key != "aspect_ratio"})
    assert refs.is_valid() and refs.params()["aspect_ratio"] == "16:9"  # the default, sent


# ---- the web page ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_page_offers_references_frames_and_a_video(alice_client: Client) -> None:
    page = alice_client.get("/generations/new/omni-video/").content.decode()
    for name in ("reference_1", "reference_3", "first_frame", "end_frame", "video_url"):
        assert f'name="{name}"' in page
    assert "&lt;&lt;&lt;image_1&gt;&gt;&gt;" in page
    assert 'name="negative_prompt"' not in page


@pytest.mark.django_db
def test_the_page_reports_a_rule_beside_its_input_and_creates_a_job(
    alice_client: Client, user
) -> None:
    bad = alice_client.post(
        "/generations/new/omni-video/",
        {"prompt": "a door", "end_frame": upload(), "mode": "std", "duration": "5"},
    )
    page = bad.content.decode()
    assert bad.status_code == 200 and "an end_frame needs a first_frame" in page
    beside = re.search(r'id="field-first_frame">.*?</div>', page, re.S).group(0)
    assert "an end_frame needs a first_frame" in beside  # next to the field it is about
    assert not Generation.objects.exists()
    good = alice_client.post(
        "/generations/new/omni-video/",
        {
            "prompt": "<<<image_1>>> at the door",
            "reference_1": upload(),
            "first_frame": upload(),
            "mode": "std",
            "duration": "6",
        },
    )
    assert good.status_code == 302, good.content.decode()[:2000]
    generation = Generation.objects.get()
    rows = generation.inputs.order_by("position")
    assert [(r.position, r.meta) for r in rows] == [(0, {}), (1, {"type": "first_frame"})]
    assert (generation.owner, generation.duration) == (user, 6)


# ---- a reference video served on 127.0.0.1 -----------------------------------------------------
@contextmanager
def served(payload: bytes) -> Iterator[str]:
    """The bytes served over HTTP as video/mp4, as a client's video_url would be."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clip_url(settings, tmp_path: Path) -> Iterator[str]:
    """A 3-second 720p clip with sound, served on 127.0.0.1."""
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    path = tmp_path / "clip.mp4"
    spec = RenderSpec(prompt="a green field", duration=3, sound=True)
    render_video(spec, str(path), str(tmp_path / "p.jpg"))
    with served(path.read_bytes()) as url:
        yield url


def short_clip(path: Path, seconds: int, size: tuple[int, int] = (1280, 720)) -> bytes:
    """A silent H.264 clip of plain frames (the renderer makes nothing under 3 s)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for _ in range(seconds * 24):
            picture = av.VideoFrame.from_image(Image.new("RGB", size, (90, 90, 90)))
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path.read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("seconds", "size", "problem"),
    [
        (2, (1280, 720), "lasts 2.0 s; at least 3 s is needed."),
        (3, (640, 360), "is 640×360; sides must be 720..2160 px."),
    ],
)
def test_a_reference_video_kling_would_refuse_fails_the_job_saying_why(
    seconds: int, size: tuple, problem: str, user, settings, tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    from videos.creation import Origin, create_generation

    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    with served(short_clip(tmp_path / "short.mp4", seconds, size)) as url:
        body = {"prompt": "p", "video_list": [{"video_url": url, "refer_type": "base"}]}
        bound = form(body, api=True)
        assert bound.is_valid(), bound.errors
        with django_capture_on_commit_callbacks(execute=True):
            generation = create_generation(bound, Origin(owner=user))
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.status_message.endswith(f"is not usable: The video 1 {problem}")


# ---- the upstream: strict bodies to the simulator ----------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "sent"),
    [
        (
            "o1_references",
            {"model_name", "prompt", "image_list", "mode", "aspect_ratio", "duration"},
        ),
        ("o1_first_and_end_frame", {"model_name", "prompt", "image_list", "mode", "duration"}),
        (
            "v3_feature_video_and_element",
            {
                "model_name",
                "prompt",
                "element_list",
                "video_list",
                "mode",
                "aspect_ratio",
                "duration",
                "watermark_info",
            },
        ),
        ("o1_base_video", {"model_name", "prompt", "video_list", "mode"}),
        (
            "v3_multi_shot_customize",
            {"model_name", "multi_shot", "shot_type", "multi_prompt", "sound", "mode"}
            | {"aspect_ratio", "duration"},
        ),
    ],
)
def test_the_kling_provider_sends_the_strict_body(
    name: str, sent: set, user, settings, clip_url: str
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks
    from videos.creation import Origin, create_generation

    body = copy.deepcopy(SEEDS[name])
    for video in body.get("video_list", []):
        video["video_url"] = clip_url
    bound = form(body, api=True)
    assert bound.is_valid(), bound.errors
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        generation.refresh_from_db()
        sent_tasks = sim.tasks_for(str(generation.pk))
        assert len(sent_tasks) == 1, generation.status_message
        task = sent_tasks[0]
        assert set(task.body) == sent | {"external_task_id"}
        for n, item in enumerate(body.get("image_list", [])):
            assert task.body["image_list"][n].get("type") == item.get("type")
            assert base64.b64decode(task.body["image_list"][n]["image_url"])[:2] == b"\xff\xd8"
        if "video_list" in body:
            assert task.body["video_list"][0] == {
                "video_url": clip_url,
                "refer_type": body["video_list"][0]["refer_type"],
                "keep_original_sound": body["video_list"][0]["keep_original_sound"],
            }
        if name == "v3_multi_shot_customize":
            assert task.body["multi_shot"] is True and task.body["multi_prompt"][1] == {
                "index": 2,
                "prompt": "it runs",
                "duration": "8",
            }
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.upstream_video_id == f"v{task.task_id}"


def test_the_simulator_applies_the_o1_rules_in_kling_s_words() -> None:
    body = {"prompt": "a door", "aspect_ratio": "16:9", "duration": "7"}
    assert check_create("omni-video", body, gateway=False) == O1_DURATION
    assert check_create("omni-video", {**body, "duration": "5"}, gateway=False) is None
    with pytest.raises(ModelNotFound):
        check_create("omni-video", {**body, "model_name": "kling-v3"}, gateway=False)
    eight = {**body, "duration": "5", "image_list": [{"image_url": PHOTO}] * 8}
    assert check_create("omni-video", eight, gateway=False) == (
        "image_list: at most 7 images and elements, got 8"
    )
    base = {"prompt": "p", "video_list": [{"video_url": CLIP_URL}], "duration": "5"}
    assert "duration is not accepted" in check_create("omni-video", base, gateway=False)
    cites = {**body, "duration": "5", "prompt": "<<<image_1>>>"}
    assert check_create("omni-video", cites, gateway=False) == (
        "prompt: <<<image_1>>> has no matching entry"
    )
    assert check_create("omni-video", {**body, "multi_shot": "true"}, gateway=False) == (
        "multi_shot must be true or false"
    )


# ---- the local renderer ------------------------------------------------------------------------
def _stored_video(generation: Generation, tmp: str) -> Path:
    path = Path(tmp) / "out.mp4"
    with default_storage.open(generation.video.name, "rb") as src:
        path.write_bytes(src.read())
    return path


@pytest.mark.django_db
def test_the_local_renderer_crossfades_first_to_end_frame_under_reference_tiles(
    user, django_capture_on_commit_callbacks
) -> None:
    from videos.creation import Origin, create_generation

    red, blue = (220, 30, 30), (30, 30, 220)
    bound = form(
        {"prompt": "a door", "mode": "std", "duration": "5"},
        {"first_frame": upload(color=red), "end_frame": upload(color=blue)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        generation = create_generation(bound, Origin(owner=user))
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider.name == "local" and generation.video_duration == 5.0
    with tempfile.TemporaryDirectory() as tmp:
        frames = frames_of(_stored_video(generation, tmp))
    assert len(frames) == 5 * 24 and frames[0].size[1] == 720  # std
    first, last = mean_colour(frames[2]), mean_colour(frames[-2])
    assert first[0] > first[2] + 40 and last[2] > last[0] + 40  # red to blue


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("refer_type", "keep", "seconds"), [("base", "yes", 3), ("feature", "no", 5)]
)
def test_the_local_renderer_uses_the_reference_video(
    refer_type: str,
    keep: str,
    seconds: int,
    user,
    clip_url: str,
    django_capture_on_commit_callbacks,
) -> None:
    from videos.creation import Origin, create_generation

    body = {
        "prompt": "more of <<<video_1>>>",
        "mode": "std",
        "video_list": [
            {"video_url": clip_url, "refer_type": refer_type, "keep_original_sound": keep}
        ],
    }
    if refer_type == "feature":
        body["duration"] = "5"
    bound = form(body, api=True)
    assert bound.is_valid(), bound.errors
    with django_capture_on_commit_callbacks(execute=True):
        generation = create_generation(bound, Origin(owner=user))
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    with tempfile.TemporaryDirectory() as tmp:
        path = _stored_video(generation, tmp)
        frames = frames_of(path)
        has_audio = bool(audio_streams(path))
        with av.open(str(path)) as container:
            length = container.duration / av.time_base
    assert len(frames) == seconds * 24 and abs(length - seconds) < 0.1
    assert has_audio is (keep == "yes")  # a base video's sound kept iff keep_original_sound


def test_render_request_cuts_the_shots_and_tiles_the_references(tmp_path: Path) -> None:
    from tests.renders import difference, photo
    from videos.rendering import render_request

    green = photo(tmp_path / "g.jpg", (20, 200, 20))
    body = {
        "model_name": "kling-v3-omni",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a fox wakes", "duration": "3"},
            {"index": 2, "prompt": "a storm at sea", "duration": "4"},
        ],
        "image_list": [{"image_url": "…"}],
        "element_list": [{"element_id": 9}],
        "sound": "on",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "7",
    }
    video, _poster = render_request("omni-video", body, {"image.0": str(green)}, str(tmp_path))
    frames = frames_of(Path(video))
    assert len(frames) == 7 * 24 and frames[0].size == (1280, 720)
    assert audio_streams(Path(video))  # sound on: an audio track
    # A hard cut exactly at 3 s: the step there dwarfs the steps inside each shot.
    cut = difference(frames[71], frames[72])
    assert cut > 3 * max(difference(frames[70], frames[71]), difference(frames[72], frames[73]))
    # The reference image is a tile in the top-left corner of every frame.
    corner = frames[100].crop((40, 40, 120, 120))
    red, grn, blue = mean_colour(corner)
    assert grn > red + 60 and grn > blue + 60


def test_intelligence_shots_are_one_per_started_five_seconds() -> None:
    from videos.rendering.requests import _shots

    body = {"multi_shot": True, "shot_type": "intelligence", "prompt": "p"}
    assert _shots(body, 12) == [("p", 4), ("p", 4), ("p", 4)]
    assert _shots(body, 7) == [("p", 4), ("p", 3)]
    assert _shots({"prompt": "p"}, 7) == []


@pytest.mark.django_db
def test_an_htmx_post_gets_the_form_back_with_its_errors(alice_client: Client) -> None:
    answer = alice_client.post(
        "/generations/new/omni-video/",
        {"prompt": "a door", "end_frame": upload()},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="kind-form",
    )
    page = answer.content.decode()
    assert answer.status_code == 200 and page.lstrip().startswith('<form id="kind-form"')
    assert "an end_frame needs a first_frame" in page and "<html" not in page
    assert not Generation.objects.exists()
