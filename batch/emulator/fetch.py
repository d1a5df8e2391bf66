"""URL submissions: the emulator fetches the media itself (§13 #16).

Rules: only loopback hosts and hosts named with --allow-host are fetched (anything else is a 400, and no
traffic leaves the machine); redirects are refused as the docs say ("we do not support any redirected links");
the body is read in chunks and capped at the upload limit (413 past it).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import aiohttp

from batch.emulator.errors import BadRequest, PayloadTooLarge

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5)


def host_allowed(url: str, allowed_hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host in allowed_hosts:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_media(
    session: aiohttp.ClientSession, url: str, *, allowed_hosts: tuple[str, ...], max_bytes: int
) -> bytes:
    if not host_allowed(url, allowed_hosts):
        raise BadRequest(
            f"Cannot fetch url '{urlsplit(url).hostname}': the emulator fetches only loopback and allowed hosts."
        )
    try:
        async with session.get(url, allow_redirects=False, timeout=FETCH_TIMEOUT) as resp:
            if 300 <= resp.status < 400:
                raise BadRequest("The url answered with a redirect; redirected links are not supported.")
            if resp.status != 200:
                raise BadRequest(f"Could not fetch the url: it answered HTTP {resp.status}.")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > max_bytes:
                    raise PayloadTooLarge(f"The media at the url is larger than {max_bytes} bytes.")
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise BadRequest(f"Could not fetch the url: {type(exc).__name__}.") from None
    if not data:
        raise BadRequest("The url returned an empty body.")
    return bytes(data)
