"""The Kling simulator speaks kling-api.md §1: auth, body rules, paging, results, callbacks."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import wait_until
from tests.images import image_bytes
from videos.providers.kling import make_jwt
from videos.providers.webhooks import verify

ROOT = Path(__file__).resolve().parent.parent
VALID = {"model_name": "kling-v1", "prompt": "a lighthouse at dusk", "duration": "5"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(min_seconds=0.4, max_seconds=0.4) as running:
        yield running


def call(
    sim: Simulator, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One request with a fresh valid JWT unless a token is given ("" sends none)."""
    if token is None:
        token = make_jwt(sim.access_key, sim.secret_key)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def jpeg_base64(width: int = 640, height: int = 360) -> str:
    return base64.b64encode(image_bytes(width, height)).decode()


def test_it_answers_1001_without_a_token(sim: Simulator) -> None:
    status, body = call(sim, "POST", "/v1/videos/text2video", VALID, token="")
    assert (status, body["code"]) == (401, 1001)


def test_it_answers_1002_for_a_bad_signature_or_unknown_key(sim: Simulator) -> None:
    forged = make_jwt(sim.access_key, "not-the-secret-key-at-all-0123456789")
    assert call(sim, "GET", "/v1/videos/text2video", token=forged)[1]["code"] == 1002
    stranger = make_jwt("someone-else", sim.secret_key)
    assert call(sim, "GET", "/v1/videos/text2video", token=stranger)[1]["code"] == 1002


def test_it_answers_1004_for_an_expired_token(sim: Simulator) -> None:
    old = make_jwt(sim.access_key, sim.secret_key, now=time.time() - 1900)
    status, body = call(sim, "GET", "/v1/videos/text2video", token=old)
    assert (status, body["code"]) == (401, 1004)


def test_it_answers_1003_for_a_token_not_yet_valid(sim: Simulator) -> None:
    future = make_jwt(sim.access_key, sim.secret_key, now=time.time() + 60)
    assert call(sim, "GET", "/v1/videos/text2video", token=future)[1]["code"] == 1003


def test_it_tolerates_a_few_seconds_of_clock_skew_thanks_to_nbf() -> None:
    # nbf = now - 5 (§1.1): a server clock 3 s behind ours still accepts the token.
    with Simulator(clock_offset=-3) as behind:
        assert call(behind, "GET", "/v1/videos/text2video")[0] == 200
    with Simulator(clock_offset=-30) as far_behind:
        assert call(far_behind, "GET", "/v1/videos/text2video")[1]["code"] == 1003


def test_it_requires_hs256_and_the_standard_claims(sim: Simulator) -> None:
    no_nbf = jwt.encode({"iss": sim.access_key, "exp": time.time() + 60}, sim.secret_key)
    assert call(sim, "GET", "/v1/videos/text2video", token=no_nbf)[1]["code"] == 1002


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration": 5}, "duration"),
        ({"mode": "standard"}, "mode"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2501}, "prompt"),
        ({"cfg_scale": 1.5}, "cfg_scale"),
        ({"model_name": "kling-v2-master", "cfg_scale": 0.5}, "cfg_scale"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio"),
        ({"camera_control": {"type": "zoom", "config": {"value": -5}}}, "camera_control"),
        ({"camera_control": {"type": "simple", "config": {"zoom": 5}}}, "camera_control"),
        ({"camera_control": {"type": "down_back", "config": {"zoom": 5}}}, "camera_control"),
        ({"external_task_id": 42}, "external_task_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_it_answers_1201_naming_the_field(sim: Simulator, change: dict, field: str) -> None:
    status, body = call(sim, "POST", "/v1/videos/text2video", {**VALID, **change})
    assert (status, body["code"]) == (400, 1201)
    assert field in body["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"image": "data:image/jpeg;base64," + jpeg_base64()}, "data: prefix"),
        ({"image": jpeg_base64(200, 200)}, "300"),
        ({"image": jpeg_base64(1000, 300)}, "aspect ratio"),
        ({"image": None, "image_tail": None}, "image"),
        ({"image_tail": jpeg_base64(), "camera_control": {"type": "down_back"}}, "at most one"),
        ({"aspect_ratio": "16:9"}, "aspect_ratio"),
    ],
)
def test_it_checks_image2video_bodies(sim: Simulator, change: dict, field: str) -> None:
    body = {"model_name": "kling-v1", "image": jpeg_base64(), "duration": "5", **change}
    body = {k: v for k, v in body.items() if v is not None}
    status, answer = call(sim, "POST", "/v1/videos/image2video", body)
    assert (status, answer["code"]) == (400, 1201)
    assert field in answer["message"]


def test_it_accepts_a_valid_image2video_body(sim: Simulator) -> None:
    body = {"model_name": "kling-v1-5", "image": jpeg_base64(), "duration": "10", "mode": "pro"}
    status, answer = call(sim, "POST", "/v1/videos/image2video", body)
    assert status == 200 and answer["data"]["task_status"] == "submitted"


def test_it_answers_1203_for_an_unknown_model(sim: Simulator) -> None:
    status, body = call(sim, "POST", "/v1/videos/text2video", {**VALID, "model_name": "kling-v9"})
    assert (status, body["code"]) == (404, 1203)


def test_it_enforces_unique_external_task_ids(sim: Simulator) -> None:
    first = call(sim, "POST", "/v1/videos/text2video", {**VALID, "external_task_id": "77"})
    second = call(sim, "POST", "/v1/videos/text2video", {**VALID, "external_task_id": "77"})
    assert first[0] == 200 and first[1]["data"]["task_info"]["external_task_id"] == "77"
    assert second[0] == 400 and "external_task_id" in second[1]["message"]
    assert len(sim.tasks_for("77")) == 1


def test_it_pages_the_list_newest_first(sim: Simulator) -> None:
    ids = [
        call(sim, "POST", "/v1/videos/text2video", VALID)[1]["data"]["task_id"] for _ in range(5)
    ]
    page1 = call(sim, "GET", "/v1/videos/text2video?pageNum=1&pageSize=2")[1]["data"]
    page3 = call(sim, "GET", "/v1/videos/text2video?pageNum=3&pageSize=2")[1]["data"]
    assert [t["task_id"] for t in page1] == [ids[4], ids[3]]
    assert [t["task_id"] for t in page3] == [ids[0]]
    assert call(sim, "GET", "/v1/videos/text2video?pageSize=501")[1]["code"] == 1201
    assert call(sim, "GET", "/v1/videos/image2video")[1]["data"] == []


def test_tasks_progress_and_succeed_with_a_real_mp4_and_units(sim: Simulator) -> None:
    created = call(sim, "POST", "/v1/videos/text2video", {**VALID, "mode": "pro", "duration": "10"})
    task_id = created[1]["data"]["task_id"]
    assert "task_result" not in created[1]["data"]
    time.sleep(0.5)
    task = call(sim, "GET", f"/v1/videos/text2video/{task_id}")[1]["data"]
    assert task["task_status"] == "succeed" and task["final_unit_deduction"] == "7"
    url = task["task_result"]["videos"][0]["url"]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.read() == clip_bytes()


def test_prompts_marked_sim_fail_fail_with_a_reason(sim: Simulator) -> None:
    created = call(sim, "POST", "/v1/videos/text2video", {**VALID, "prompt": "boom sim:fail"})
    time.sleep(0.5)
    status, body = call(sim, "GET", f"/v1/videos/text2video/{created[1]['data']['task_id']}")
    # A failed task is still code 0 / SUCCEED: the reason is only in task_status_msg (§1.6).
    assert (status, body["code"], body["message"]) == (200, 0, "SUCCEED")
    assert (
        body["data"]["task_status"] == "failed"
        and "simulated failure" in body["data"]["task_status_msg"]
    )


def test_it_injects_faults_on_demand(sim: Simulator) -> None:
    sim.add_fault("rate_limit")
    assert call(sim, "POST", "/v1/videos/text2video", VALID)[1]["code"] == 1302
    sim.add_fault("503", on="list")
    assert call(sim, "GET", "/v1/videos/text2video")[0:1] == (503,)
    sim.add_fault("drop_after_accept")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        call(sim, "POST", "/v1/videos/text2video", {**VALID, "external_task_id": "dropped"})
    assert len(sim.tasks_for("dropped")) == 1  # accepted, though the client never heard


def test_an_ok_without_id_fault_creates_the_task_but_answers_no_task_id(sim: Simulator) -> None:
    sim.add_fault("ok_without_id")
    status, body = call(sim, "POST", "/v1/videos/text2video", {**VALID, "external_task_id": "e1"})
    [task] = sim.tasks_for("e1")  # created, though the answer does not say which task
    assert (status, body["code"]) == (200, 0)
    assert "task_id" not in body["data"] and task.task_id not in json.dumps(body)
    assert body["data"]["task_status"] == "submitted"
    assert call(sim, "POST", "/v1/videos/text2video", VALID)[1]["data"]["task_id"]  # once only


def test_seeded_tasks_fill_more_than_one_page_of_the_list(sim: Simulator) -> None:
    older = sim.seed_tasks(3, age_seconds=7200)
    newer = sim.seed_tasks(600)
    first = call(sim, "GET", "/v1/videos/text2video?pageNum=1&pageSize=500")[1]["data"]
    second = call(sim, "GET", "/v1/videos/text2video?pageNum=2&pageSize=500")[1]["data"]
    assert [t["task_id"] for t in first + second] == (older + newer)[::-1]  # newest first
    assert second[-1]["created_at"] < first[0]["created_at"] - 7_000_000  # backdated 2 hours
    assert sim.counts["create"] == 0  # seeded without HTTP creates


def test_it_answers_1303_over_its_concurrency_cap() -> None:
    with Simulator(min_seconds=60, max_seconds=60, max_concurrent=1) as capped:
        assert call(capped, "POST", "/v1/videos/text2video", VALID)[0] == 200
        status, body = call(capped, "POST", "/v1/videos/text2video", VALID)
        assert (status, body["code"]) == (429, 1303)


@pytest.mark.parametrize(
    ("shape", "status_key", "final_word"),
    [
        ("flat", "status", "succeeded"),
        ("openai", "status", "completed"),
        ("record", "status", "SUCCESS"),
    ],
)
def test_gateway_mode_answers_in_each_shape(shape: str, status_key: str, final_word: str) -> None:
    with Simulator(gateway=True, api_key="gw-key", shape=shape) as gateway:
        assert call(gateway, "POST", "/kling/v1/videos/text2video", VALID, token="wrong")[0] == 401
        status, created = call(
            gateway, "POST", "/kling/v1/videos/text2video", VALID, token="gw-key"
        )
        assert status == 200
        task_id = created.get("task_id") or created["data"]["task_id"]
        _, queried = call(gateway, "GET", f"/kling/v1/videos/text2video/{task_id}", token="gw-key")
        task = queried.get("data", queried) if shape == "record" else queried
        assert task[status_key] == final_word


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.received.append((headers, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["twice", "out_of_order"])
def test_it_posts_signed_callbacks_twice_or_out_of_order(receiver: Any, mode: str) -> None:
    secret = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with Simulator(
        min_seconds=0.3, max_seconds=0.3, webhook_secret=secret, callback_mode=mode
    ) as sim:
        call(sim, "POST", "/v1/videos/text2video", {**VALID, "callback_url": url})
        wait_until(
            lambda: (
                any(b"succeed" in body for _, body in receiver.received)
                and len(receiver.received) >= 2
            ),
            timeout=5,
            step=0.05,
        )
        time.sleep(0.2)
    statuses = [json.loads(body)["task_status"] for _, body in receiver.received]
    for headers, body in receiver.received:
        verify(
            secret,
            headers["webhook-id"],
            headers["webhook-timestamp"],
            headers["webhook-signature"],
            body,
        )
    if mode == "twice":
        assert statuses[0] == statuses[1]
    else:
        assert statuses[0] == "succeed" and statuses[-1] != "succeed"  # the stale one came last


def test_the_management_command_serves_the_simulator() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.test_settings"}
    secret = "cmd-sk-0123456789abcdef0123456789ab"
    command = [sys.executable, "-u", "manage.py", "kling_simulator", "--port", "0",
               "--access-key", "cmd-ak", "--secret-key", secret]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first_line).group(0)
        request = urllib.request.Request(
            url + "/v1/videos/text2video?pageSize=1",
            headers={
                "Authorization": "Bearer "
                + make_jwt("cmd-ak", "cmd-sk-0123456789abcdef0123456789ab")
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["data"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
