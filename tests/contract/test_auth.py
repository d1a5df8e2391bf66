"""Auth (§9, §13 #14): token generation and caching, expiry, Bearer and the deprecated x-api-key."""

from __future__ import annotations

import base64
import json

from tests.support.server import APP_ID, APP_SECRET, MakeApi

TOKEN_INVALID = {"message": "Token validation failed for provided token."}
GRANT = {"type": "application", "appId": APP_ID, "appSecret": APP_SECRET}


async def test_token_is_cached_with_decreasing_expiry(make_api: MakeApi) -> None:
    """A repeat token:generate returns the same JWT-like token with a smaller expiresIn."""
    api = await make_api(login=False, token_ttl=1000)
    first = await (await api.http.post("/oauth2/token:generate", json=GRANT)).json()
    assert set(first) == {"accessToken", "expiresIn"} and first["expiresIn"] == 1000
    api.clock.advance(100)
    again = await (await api.http.post("/oauth2/token:generate", json=GRANT)).json()
    assert again == {"accessToken": first["accessToken"], "expiresIn": 900}
    header, payload, _ = first["accessToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert "exp" in claims and json.loads(base64.urlsafe_b64decode(header + "=="))["typ"] == "JWT"


async def test_bad_credentials_and_grant_type(make_api: MakeApi) -> None:
    """Wrong appSecret → 401 with a message; a grant that is not type=application → 400."""
    api = await make_api(login=False)
    resp = await api.http.post("/oauth2/token:generate", json=GRANT | {"appSecret": "nope"})
    assert resp.status == 401 and "message" in await resp.json()
    resp = await api.http.post("/oauth2/token:generate", json=GRANT | {"type": "password"})
    assert resp.status == 400
    resp = await api.http.post("/oauth2/token:generate", data=b"{", headers={"Content-Type": "application/json"})
    assert resp.status == 400


async def test_missing_unknown_and_expired_tokens_get_401(make_api: MakeApi) -> None:
    """No token, a made-up token and an expired token each get 401 with the documented body."""
    api = await make_api(token_ttl=10)
    for headers in ({}, {"Authorization": "Bearer made.up.token"}, {"Authorization": api.token}):
        resp = await api.http.get("/v1/conversations", headers=headers)
        assert (resp.status, await resp.json()) == (401, TOKEN_INVALID)
    assert (await api.http.get("/v1/conversations", headers=api.auth)).status == 200
    api.clock.advance(10)
    resp = await api.http.get("/v1/conversations", headers=api.auth)
    assert (resp.status, await resp.json()) == (401, TOKEN_INVALID)
    old = api.token
    assert await api.login() != old
    assert (await api.http.get("/v1/conversations", headers=api.auth)).status == 200


async def test_near_expiry_generates_a_new_token(make_api: MakeApi) -> None:
    """Within the last tenth of its life the cached token is replaced by a fresh one."""
    api = await make_api(login=False, token_ttl=100)
    first = await (await api.http.post("/oauth2/token:generate", json=GRANT)).json()
    api.clock.advance(95)
    second = await (await api.http.post("/oauth2/token:generate", json=GRANT)).json()
    assert second["accessToken"] != first["accessToken"] and second["expiresIn"] == 100


async def test_deprecated_x_api_key_header_is_accepted(make_api: MakeApi) -> None:
    """`x-api-key: <token>` authenticates like Bearer (the official Python SDK sends it)."""
    api = await make_api()
    resp = await api.http.get("/v1/conversations", headers={"x-api-key": api.token})
    assert resp.status == 200
