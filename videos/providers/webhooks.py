"""Standard Webhooks signatures (kling-api.md §5): sign and verify, no framework needed.

The studio's one signer: it verifies upstream callbacks (videos/callbacks.py), signs the
callbacks the studio posts to its API clients (api/tasks.py) and the simulator's callbacks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The signature headers are missing, stale or do not match the body."""


def _key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # Not Base64: some senders configure a plain string secret; use its bytes.
        return raw.encode()


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The `webhook-signature` header value for one message: "v1,<base64 HMAC-SHA256>"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    msg_id: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Raise WebhookVerificationError unless one of the listed v1 signatures matches."""
    if not (msg_id and timestamp and signature_header):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from exc
    now = time.time() if now is None else now
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook-timestamp is more than 5 minutes away from now")
    expected = sign(secret, msg_id, timestamp, body)
    # Several signatures are listed, space-separated, while a secret is being rotated.
    for candidate in signature_header.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise WebhookVerificationError("no webhook signature matches")
