"""Issue 10's "Done means", as a creator does it through the studio's API with a real key.

A three-shot kling-v3 clip with sound, a kling-v1-6 clip extended twice, a lip-sync of a clip
to an uploaded voice line and an effect on a photo, each once on the local renderer (offline)
and once against the simulator as a Kling provider; the caller's /account/costs and the
admin's view of each Kling account's packs; and every curl example of the README's
"Every kind, by curl" section, run as written against the studio.
"""

from __future__ import annotations

import base64
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import bearer, issue, post_json
from tests.renders import (
    audio_streams,
    difference,
    frames_of,
    mean_colour,
    rms,
    sound_file,
    sound_of,
    upper,
)
from tests.renders import photo as photo_file
from videos import tasks
from videos.models import Generation, LipSyncSession, Status

README = Path(__file__).resolve().parent.parent / "README.md"
K = "/kling/v1/videos"
SHOTS = [
    {"index": 1, "prompt": "A harbour at dawn", "duration": "1"},
    {"index": 2, "prompt": "A ferry leaves", "duration": "1"},
    {"index": 3, "prompt": "Gulls over the sea", "duration": "1"},
]
THREE_SHOTS = {
    "model_name": "kling-v3",
    "duration": "3",
    "aspect_ratio": "1:1",
    "sound": "on",
    "multi_shot": True,
    "shot_type": "customize",
    "multi_prompt": SHOTS,
}


@dataclass
class Studio:
    """The studio's API with one key, and the worker run the way its upstream needs."""

    client: Client
    secret: str
    sim: Simulator | None
    capture: Any  # django_capture_on_commit_callbacks
    tmp: Path

    def post(self, path: str, body: dict) -> dict:
        """POST as the creator; on the local renderer the job runs as its commit enqueues it."""
        if self.sim is None:
            with self.capture(execute=True):
                answer = post_json(self.client, path, body, self.secret)
        else:
            answer = post_json(self.client, path, body, self.secret)
        assert answer.status_code == 200, answer.content
        assert answer.json()["code"] == 0, answer.json()
        return answer.json()["data"]

    def create(self, path: str, body: dict) -> Generation:
        """Create through the API, run the worker to the end, check the task the API answers."""
        pk = int(self.post(path, body)["task_id"])
        if self.sim is not None:
            # The worker's own jobs, inline: the submit, then polls until the task is done.
            tasks.submit_generation(pk)
            for _ in range(20):
                tasks.poll_generation(pk)
                if Generation.objects.get(pk=pk).status not in Generation.RUNNING:
                    break
                time.sleep(0.05)
        generation = Generation.objects.get(pk=pk)
        assert generation.status == Status.SUCCEEDED, generation.status_message
        task = self.client.get(f"{path}/{pk}", **bearer(self.secret)).json()["data"]
        assert task["task_status"] == "succeed", task
        (video,) = task["task_result"]["videos"]
        assert video["id"] == str(pk) and video["url"].startswith("http")
        return generation

    def file(self, generation: Generation, name: str) -> Path:
        """The stored MP4, copied out of the studio's storage."""
        path = self.tmp / name
        with default_storage.open(generation.video.name) as stored:
            path.write_bytes(stored.read())
        return path

    def task(self, task_id: str, kind: str) -> dict:
        """What the API answers for a task: for a sim, the upstream's own body too."""
        answer = self.client.get(f"{K}/{kind}/{task_id}", **bearer(self.secret))
        assert answer.status_code == 200, answer.content
        return answer.json()["data"]


@pytest.fixture(params=["local", "simulator"])
def studio(
    request: pytest.FixtureRequest,
    user,
    settings,
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> Iterator[Studio]:
    settings.STUDIO_POLL_SCALE = 0.01
    _key, secret = issue(user, "creator", unit_budget=Decimal("500.00"))
    if request.param == "local":
        yield Studio(Client(), secret, None, django_capture_on_commit_callbacks, tmp_path)
        return
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        yield Studio(Client(), secret, sim, django_capture_on_commit_callbacks, tmp_path)


def upstream_body(studio: Studio, generation: Generation) -> dict:
    """The body the simulator received for a generation (exactly one task each)."""
    assert studio.sim is not None
    (task,) = studio.sim.tasks_for(str(generation.pk))
    return task.body


# ---- a three-shot kling-v3 clip with sound -------------------------------------------------------
@pytest.mark.django_db
def test_a_three_shot_kling_v3_clip_with_sound(studio: Studio) -> None:
    generation = studio.create(f"{K}/text2video", THREE_SHOTS)
    assert generation.sound and generation.params["multi_prompt"] == SHOTS
    path = studio.file(generation, "shots.mp4")
    if studio.sim is not None:
        sent = upstream_body(studio, generation)
        assert (sent["model_name"], sent["sound"], sent["multi_shot"]) == ("kling-v3", "on", True)
        assert (sent["shot_type"], sent["multi_prompt"]) == ("customize", SHOTS)
        assert sent["duration"] == "3"
        assert generation.provider.name == "kling-sim"
        assert path.read_bytes() == clip_bytes()  # the simulator's clip, stored as ours
        return
    assert generation.provider.name == "local"
    (stream,) = audio_streams(path)
    assert stream.codec_context.name == "aac"
    samples = sound_of(path)
    assert all(rms(samples, s + 0.1, s + 0.9) > 0.05 for s in range(3))  # audible in every shot
    frames = frames_of(path)
    assert len(frames) == 72  # 3 s at 24 fps
    steps = [difference(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    cuts = sorted(sorted(range(len(steps)), key=steps.__getitem__)[-2:])
    assert cuts == [23, 47]  # the two cuts: at 1 s and 2 s, the shots' boundaries
    assert min(steps[23], steps[47]) > 15 > max(s for i, s in enumerate(steps) if i not in cuts)


# ---- a kling-v1-6 clip extended twice ------------------------------------------------------------
@pytest.mark.django_db
def test_a_kling_v1_6_clip_extended_twice(studio: Studio) -> None:
    first = studio.create(
        f"{K}/text2video", {"model_name": "kling-v1-6", "prompt": "red kites", "duration": "5"}
    )
    second = studio.create(f"{K}/video-extend", {"video_id": str(first.pk), "prompt": "they climb"})
    third = studio.create(f"{K}/video-extend", {"video_id": str(second.pk), "prompt": "they land"})
    assert (second.parent, third.parent) == (first, second)
    assert second.kind == third.kind == "video-extend"
    assert second.model_name == third.model_name == "kling-v1-6"
    # The API names each parent by the studio's id, never the upstream's.
    for child, parent in ((second, first), (third, second)):
        task = studio.task(str(child.pk), "video-extend")
        assert task["task_info"]["parent_video"]["id"] == str(parent.pk)
        assert parent.upstream_video_id not in str(task)
    # On the web, an extension offers "Extend" again, so the creator can go on from it.
    web = Client()
    web.force_login(first.owner)
    for clip in (first, second, third):
        page = web.get(f"/generations/{clip.pk}/").content.decode()
        assert f'href="/generations/new/video-extend/?video_id={clip.pk}"' in page, clip.pk
    if studio.sim is not None:
        # Each extension went to the account that made its parent, with the parent's video id.
        assert upstream_body(studio, second)["video_id"] == first.upstream_video_id
        assert upstream_body(studio, third)["video_id"] == second.upstream_video_id
        assert {g.provider.name for g in (first, second, third)} == {"kling-sim"}
        return
    assert abs(second.video_duration - (first.video_duration + 5)) < 0.2
    assert abs(third.video_duration - (second.video_duration + 5)) < 0.2
    paths = [studio.file(g, f"{i}.mp4") for i, g in enumerate((first, second, third))]
    frames = [frames_of(path) for path in paths]
    for parent, child in ((frames[0], frames[1]), (frames[1], frames[2])):
        assert len(child) > len(parent)
        for index in (0, len(parent) // 2, len(parent) - 1):
            assert difference(parent[index], child[index]) < 6, index  # starts with the parent
        # and goes on from the parent's last picture: the cut to the new part is invisible
        assert difference(upper(parent[-1]), upper(child[len(parent)])) < 6
    assert difference(frames[0][0], frames[2][-1]) > 6  # and goes on with new picture


# ---- a lip-sync of a clip to an uploaded voice line ----------------------------------------------
@pytest.mark.django_db
def test_a_clip_lip_synced_to_an_uploaded_voice_line(studio: Studio) -> None:
    source = studio.create(
        f"{K}/text2video", {"model_name": "kling-v1-6", "prompt": "a quiet pier", "duration": "5"}
    )
    voice = sound_file(studio.tmp / "line.mp3", 3.0, pitch=330).read_bytes()
    found = post_json(
        studio.client, f"{K}/identify-face", {"video_id": str(source.pk)}, studio.secret
    )
    assert found.status_code == 200, found.content
    data = found.json()["data"]
    session = LipSyncSession.objects.get(pk=int(data["session_id"]))
    assert session.source == source and session.upstream_session_id not in str(data)
    face = data["face_data"][0]
    body = {
        "session_id": data["session_id"],
        "face_choose": [
            {
                "face_id": face["face_id"],
                "sound_file": base64.b64encode(voice).decode(),
                "sound_start_time": 0,
                "sound_end_time": 2000,
                "sound_insert_time": 1000,
            }
        ],
    }
    synced = studio.create(f"{K}/advanced-lip-sync", body)
    assert synced.parent == source and synced.kind == "advanced-lip-sync"
    assert synced.inputs.get().role == "audio"
    task = studio.task(str(synced.pk), "advanced-lip-sync")
    assert task["task_info"]["parent_video"]["id"] == str(source.pk)
    assert source.upstream_video_id not in str(task)
    path = studio.file(synced, "synced.mp4")
    if studio.sim is not None:
        sent = upstream_body(studio, synced)
        assert sent["session_id"] == session.upstream_session_id
        assert base64.b64decode(sent["face_choose"][0]["sound_file"]) == voice
        assert studio.sim.counts["identify"] == 1 and synced.provider.name == "kling-sim"
        return
    assert synced.provider.name == "local" and abs(synced.video_duration - 5.0) < 0.1
    (stream,) = audio_streams(path)
    assert stream.codec_context.name == "aac"
    samples = sound_of(path)
    assert rms(samples, 0.2, 0.8) < 0.01  # silent before the insert time
    assert rms(samples, 1.2, 2.8) > 0.05  # the voice line
    assert rms(samples, 3.2, 4.8) < 0.01  # and only its two seconds


# ---- an effect on a photo ---------------------------------------------------------------------
@pytest.mark.django_db
def test_an_effect_on_a_photo(studio: Studio) -> None:
    green = photo_file(studio.tmp / "me.png", (30, 160, 60))
    photo = base64.b64encode(green.read_bytes()).decode()
    body = {"effect_scene": "bullet_time", "input": {"image": photo}}
    generation = studio.create(f"{K}/effects", body)
    assert (generation.kind, generation.params["effect_scene"]) == ("effects", "bullet_time")
    path = studio.file(generation, "effect.mp4")
    assert len(frames_of(path)) > 24
    if studio.sim is not None:
        sent = upstream_body(studio, generation)
        assert sent["effect_scene"] == "bullet_time" and sent["input"]["image"] == photo
        return
    assert generation.provider.name == "local" and generation.video_duration == 5.0
    red, green_level, blue = mean_colour(upper(frames_of(path)[0]))
    assert green_level > red + 40 and green_level > blue + 40  # the green photo is what moves


# ---- the money: the caller's key and the admin's view of each Kling account ----------------------
@pytest.mark.django_db
def test_the_key_and_the_admin_see_what_is_left(studio: Studio, staff_client: Client) -> None:
    window = {"start_time": "0", "end_time": str(int(time.time() * 1000))}
    costs = studio.client.get("/kling/account/costs", window, **bearer(studio.secret))
    assert costs.status_code == 200, costs.content
    (pack,) = costs.json()["data"]["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == pack["total_quantity"] == 500.0
    studio.create(
        f"{K}/text2video", {"model_name": "kling-v1-6", "prompt": "a kite", "mode": "pro"}
    )
    window["end_time"] = str(int(time.time() * 1000))
    costs = studio.client.get("/account/costs", window, **bearer(studio.secret))
    (pack,) = costs.json()["data"]["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == 496.5  # kling-v1-6 pro: 3.5 units for 5 s
    if studio.sim is None:
        tasks.refresh_balances()
        page = staff_client.get(reverse("usage")).content.decode()
        section = page[page.index('id="balances"') :]
        assert "not metered" in section[section.index(">local<") :][:400]
        return
    with Simulator() as other:  # a second Kling account, untouched by the creator
        provider_for(other, "kling-two", priority=20)
        assert tasks.refresh_balances() == 2
    page = staff_client.get(reverse("usage")).content.decode()
    section = page[page.index('id="balances"') :]
    # Each account's online pack shows what is left: 1000 less the creator's 3.5 units on the
    # account that made the clip, all of it on the other.
    for name, left in (("kling-sim", "996.50"), ("kling-two", "1000")):
        rows = section[section.index(f">{name}<") :]
        online = rows[rows.index("Video Generation - 1000 units") :]
        assert f'<td class="num">{left}</td>' in online[:200], name
        assert "Trial - 66 units" in rows
    assert studio.sim.counts["costs"] == 1


# ---- the README's curl examples, run as written -----------------------------------------------
def readme_curls() -> list[list[str]]:
    """Each curl command of the "Every kind, by curl" block, split as the shell would."""
    text = README.read_text()
    block = text[text.index("**Every kind, by curl.**") :]
    block = block[
        block.index("```sh") + len("```sh") : block.index("```", block.index("```sh") + 5)
    ]
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
    commands = re.split(r"\n(?=curl )", "\n".join(lines).replace("\\\n", " "))
    return [shlex.split(command) for command in commands if command.startswith("curl ")]


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["/kling", ""], ids=["kling", "without-kling"])
def test_every_readme_curl_example_is_accepted_as_written(
    prefix: str, user, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    _key, secret = issue(user, unit_budget=Decimal("100.00"))  # a key with a budget has a pack
    voice = base64.b64encode(sound_file(tmp_path / "voice.mp3", 3.0).read_bytes()).decode()
    with django_capture_on_commit_callbacks(execute=True):  # a real clip to extend and lip-sync
        clip = post_json(
            Client(), f"{K}/text2video", {"model_name": "kling-v1-6", "prompt": "a pier"}, secret
        ).json()["data"]["task_id"]
    assert Generation.objects.get(pk=clip).status == Status.SUCCEEDED
    curls = readme_curls()
    assert len(curls) == 10
    session = ""
    seen = set()
    for words in curls:
        url = next(w for w in words if w.startswith("$S/kling/"))[len("$S/kling") :]
        url = prefix + url  # every route is served with and without /kling
        body = words[words.index("-d") + 1] if "-d" in words else None
        if body is None:
            path, _, query = url.partition("?")
            params = dict(part.split("=", 1) for part in query.split("&"))
            params = {
                k: str(int(time.time() * 1000)) if "$(" in v else v for k, v in params.items()
            }
            answer = Client().get(path, params, **bearer(secret))
            assert answer.status_code == 200, (url, answer.content)
            assert answer.json()["data"]["resource_pack_subscribe_infos"]
            continue
        body = (
            body.replace("<studio task id>", str(clip))
            .replace("<from identify-face>", session)
            .replace("$(base64 -w0 voice.mp3)", voice)
        )
        answer = Client().post(url, data=body, content_type="application/json", **bearer(secret))
        assert answer.status_code == 200, (url, answer.content)
        data = answer.json()["data"]
        kind = url.rsplit("/", 1)[1]
        seen.add(kind)
        if kind == "identify-face":
            session = data["session_id"]
            continue
        # "every kind is queried at its own path"
        task = Client().get(f"{url}/{data['task_id']}", **bearer(secret))
        assert task.status_code == 200, (url, task.content)
        assert task.json()["data"]["task_id"] == data["task_id"]
    assert seen == {
        "text2video",
        "image2video",
        "multi-image2video",
        "omni-video",
        "video-extend",
        "identify-face",
        "advanced-lip-sync",
        "effects",
    }


@pytest.mark.django_db
def test_the_readme_three_shot_example_renders_with_sound_and_cuts_where_it_says(
    user, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    words = readme_curls()[0]
    _key, secret = issue(user)
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            f"{K}/text2video",
            data=words[words.index("-d") + 1],
            content_type="application/json",
            **bearer(secret),
        )
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get(pk=answer.json()["data"]["task_id"])
    assert generation.status == Status.SUCCEEDED, generation.status_message
    path = tmp_path / "readme.mp4"
    path.write_bytes(generation.video.read())
    assert audio_streams(path)[0].codec_context.name == "aac"
    assert rms(sound_of(path), 0.5, 11.5) > 0.05
    frames = frames_of(path)
    assert len(frames) == 12 * 24
    steps = [difference(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    cuts = sorted(sorted(range(len(steps)), key=steps.__getitem__)[-2:])
    assert cuts == [4 * 24 - 1, 9 * 24 - 1]  # "the render cuts at 4 s and 9 s"
