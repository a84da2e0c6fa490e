"""Encryption at rest for upstream secrets (Fernet, key from the environment)."""

import base64
import hashlib
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@cache
def _fernet() -> Fernet:
    """Build the Fernet key from STUDIO_ENCRYPTION_KEY, else derive it from SECRET_KEY."""
    material = settings.STUDIO_ENCRYPTION_KEY or settings.SECRET_KEY
    digest = hashlib.sha256(f"studio-encryption:{material}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_json(value: dict) -> str:
    """Encrypt a small JSON-able mapping into a printable token."""
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict:
    """Decrypt a token made by encrypt_json; an empty token is an empty mapping."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError(
            "stored secret cannot be decrypted: was STUDIO_ENCRYPTION_KEY changed?"
        ) from exc


def mask(secret: str) -> str:
    """Show only enough of a secret to recognise it."""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:4]}…{secret[-2:]}"
