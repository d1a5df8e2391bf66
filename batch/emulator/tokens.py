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
