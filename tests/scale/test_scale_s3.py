"""Media on S3-compatible storage, as STUDIO_S3_BUCKET configures it, against a real server.

moto's standalone server (from PyPI, a dev dependency) plays the S3 endpoint on 127.0.0.1.
A gunicorn and a qcluster started with the S3 variables run a generation through the API:
the uploaded first frame and the rendered video go to the bucket, the signed link and the
API's content route serve it whole and in ranges straight from the bucket, and a delete
(to the trash) then a purge removes its objects.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from django.conf import settings

from api.models import ApiKey
from simulator.testing import wait_until
from tests.api_helpers import issue
from tests.images import image_bytes
from tests.live_gunicorn import free_port, gunicorn, server_env, wait_listening
from tests.scale.helpers import SCALE

pytestmark = SCALE
BUCKET = "studio-media"


@dataclass
class S3:
    endpoint: str
    client: Any
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """What an operator sets (README, Deployment): the bucket, endpoint and credentials."""
        return {
            "STUDIO_S3_BUCKET": BUCKET,
            "STUDIO_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "studio-test",
            "AWS_SECRET_ACCESS_KEY": "studio-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the server logged so far."""
        found = REQUEST.findall(ANSI.sub("", self.log.read_text(errors="replace")))
        return [(method, path, int(status)) for method, path, status in found]


ANSI = re.compile(r"\x1b\[[0-9;]*m")
REQUEST = re.compile(r'"(GET|HEAD|PUT|POST|DELETE) /([^ ?]+)\S* HTTP/[0-9.]+" (\d{3})')


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_listening(port, server)
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="studio-test",
            aws_secret_access_key="studio-test-secret",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        yield S3(endpoint, client, tmp_path / "moto.log")
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()


def create_image2video(base: str, secret: str, color: tuple = (200, 80, 40)) -> str:
    frame = base64.b64encode(image_bytes(640, 360, color=color)).decode()
    body = {"model_name": "kling-v1", "prompt": "a lantern in the rain", "image": frame}
    answer = httpx.post(
        f"{base}/kling/v1/videos/image2video",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["task_id"]


def finished_task(base: str, secret: str, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = {}

    def done() -> bool:
        nonlocal task
        answer = httpx.get(
            f"{base}/kling/v1/videos/image2video/{task_id}",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        task = answer.json()["data"]
        return task["task_status"] in ("succeed", "failed")

    assert wait_until(done, timeout=300, step=1), task
    assert task["task_status"] == "succeed", task
    return task


def test_media_on_s3_upload_range_reads_signed_link_and_delete(clusters, user, s3: S3) -> None:
    key, secret = issue(user, requests_per_minute=10_000)
    clusters(1, **s3.env)
    with gunicorn(workers=2, threads=2, **s3.env) as base:
        task_id = create_image2video(base, secret)
        task = finished_task(base, secret, task_id)

        # Upload: the first frame (at create, by the web process) and the rendered video
        # and poster (by the worker) are objects in the bucket; nothing went to MEDIA_ROOT.
        stored = s3.keys()
        video_key = f"videos/{task_id}/video.mp4"
        assert video_key in stored and f"videos/{task_id}/poster.jpg" in stored, stored
        assert any(name.startswith("inputs/") for name in stored), stored
        assert not (Path(settings.MEDIA_ROOT) / "videos" / task_id).exists()
        video = s3.body(video_key)
        assert video[4:8] == b"ftyp" and len(video) > 10_000

        # The signed link the API answers with serves the object without a session.
        url = task["task_result"]["videos"][0]["url"]
        whole = httpx.get(url, timeout=60)
        assert whole.status_code == 200 and whole.content == video
        assert whole.headers["Content-Length"] == str(len(video))
        size = len(video)
        before = len(s3.requests())
        for asked, first, last in [
            ("bytes=100-1099", 100, 1099),
            ("bytes=-500", size - 500, size - 1),
            (f"bytes={size - 10}-", size - 10, size - 1),
            (f"bytes=0-{size + 5000}", 0, size - 1),  # an end beyond the file is clipped
        ]:
            part = httpx.get(url, headers={"Range": asked}, timeout=60)
            assert part.status_code == 206, (asked, part.status_code)
            assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}", asked
            assert part.content == video[first : last + 1], asked
            assert part.headers["Content-Length"] == str(last - first + 1), asked
        beyond = httpx.get(url, headers={"Range": f"bytes={size}-"}, timeout=60)
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
        # Each range was one ranged GET on the bucket (206 there), not a download of the
        # whole object into the web process's memory to seek in it.
        gets = [r for r in s3.requests()[before:] if r[0] == "GET" and r[1].endswith(video_key)]
        assert [status for _, _, status in gets] == [206] * 4, s3.requests()[before:]

        # The API's own content route (key auth) reads the same object in a range.
        headers = {"Authorization": f"Bearer {secret}", "Range": "bytes=0-99"}
        content = httpx.get(f"{base}/v1/videos/{task_id}/content", headers=headers, timeout=60)
        assert content.status_code == 206 and content.content == video[:100]

        # Delete: the generation's objects leave the bucket (the input frame with it).
        deleted = httpx.delete(
            f"{base}/v1/videos/{task_id}",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        # A delete moves it to the trash (restorable): its objects stay until it is purged.
        assert video_key in s3.keys()
        purge = subprocess.run(
            [sys.executable, "manage.py", "purge_trash"],
            env=server_env(STUDIO_TRASH_DAYS="0", **s3.env),
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert purge.returncode == 0 and "purged 1 generation" in purge.stdout, purge
        assert s3.keys() == []
        assert httpx.get(url, timeout=60).status_code == 404
    assert ApiKey.objects.filter(pk=key.pk).exists()
