"""Access tokens: JWT-shaped strings (the JS SDK decodes `exp` from the middle part), HMAC-signed per process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def mint(signing_key: bytes, app_id: str, expires_epoch: int) -> str:
    head = (
        _part({"alg": "HS256", "typ": "JWT"})
        + "."
        + _part({"sub": app_id, "exp": expires_epoch, "jti": secrets.token_hex(8)})
    )
    signature = hmac.new(signing_key, head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def verify(signing_key: bytes, app_id: str, value: str) -> int | None:
    """The expiry (epoch seconds) of a token this key signed for `app_id`; None for anything else."""
    parts = value.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(signing_key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict) or claims.get("sub") != app_id:
        return None
    expires = claims.get("exp")
    return expires if isinstance(expires, int) else None
