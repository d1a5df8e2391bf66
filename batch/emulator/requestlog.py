"""The control plane's request log (GET /_emulator/requests): what each request asked, and never a secret.

Rules: an entry holds the method, path, query, the auth scheme used (never the token or the app secret: they
travel in headers and bodies, which are not kept), the status and the fault drawn. A `webhookUrl` in the query
keeps its scheme, host and port, not its path, query or user info: a client's receiver is reached at a secret path
(anyone who learns it can post notices to it), and the log is readable by whoever reaches the control plane.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_plus, urlsplit

SECRET_BEARING = frozenset({"webhookUrl"})
REDACTED = "redacted"


def redacted_url(url: str) -> str:
    """`scheme://host:port/redacted`: where notices go, without the path that lets one post them."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # not a URL that can be taken apart: nothing of it is kept
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port is not None else ''}/{REDACTED}"


def redacted_query(query: str) -> str:
    """The query string as sent, with the value of every secret-bearing parameter redacted (others untouched)."""
    kept = []
    for part in query.split("&") if query else []:
        key, sep, value = part.partition("=")
        if sep and unquote_plus(key) in SECRET_BEARING:
            value = quote(redacted_url(unquote_plus(value)), safe="")
        kept.append(key + sep + value)
    return "&".join(kept)
