"""The Symbl API client: the one module that owns the wire (docs/api-contract.md §1-9).

Rules:
- tokens are generated on demand, cached, and renewed ahead of expiry; a 401 regenerates once and retries
  that call (a 401 means the server did not act, so this is safe for submissions too);
- reads (GET) are retried with full-jitter exponential backoff on 5xx, resets and timeouts, waiting for
  `Retry-After` instead when the answer carries one;
- submissions (POST create, PUT append) are sent once: a 4xx is `Refused` (429 is `RateLimited`); a lost
  answer, a 5xx or a malformed 2xx is `OutcomeUnknown`, which the runner resolves before anything is resent
  (§13 #18); `Transport` or `Broken` from a submission mean it was never sent (no connection, or the token
  could not be had);
- uploads stream from disk with an exact Content-Length; nothing reads a file whole;
- every aiohttp, asyncio and JSON error is translated in `_exchange`, the one place;
- no secret leaves in an error: every message from a public method is scrubbed of the app secret, the current
  token and the values given as `redact` (e.g. the webhook path), before any truncation;
- a token that cannot be had after its retries is `Unreachable`: the API is down or unreachable, and callers
  queued behind the same failure get it at once instead of retrying one after another;
- listings are paged to their end, but a listing that stops making progress (ignores `offset`) is `Broken`;
- an upload whose body was not sent to its last byte cannot have been acted on: its failure is `Transport`
  (never sent), and `Upload.complete` tells a cancelled caller the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiofiles
import aiofiles.threadpool
import aiohttp
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from batch import decisions, results
from batch.errors import (
    ApiError,
    Broken,
    CredentialsRefused,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Refused,
    TooLarge,
    Transport,
    Unauthorized,
    Unreachable,
)

MAX_BODY = 256 * 1024 * 1024  # bytes of one answer we are willing to read
CHUNK = 256 * 1024
MAX_PAGES = 10_000  # pages of one listing, at most (a million conversations of one name)
REDACTED = "[redacted]"
MIN_SECRET = 8  # shorter values (test fixtures) are not scrubbed: every "s" of a message would go; real ones are long
_BEARER = re.compile(r"(?i)bearer\s+[^\s\"',;]+")
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How reads are retried. Tests pass `RetryPolicy(base=0, cap=0)` for zero waits."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return float(min(retry_after, self.cap * 10, decisions.MAX_PAUSE))
        if self.cap <= 0:
            return 0.0
        return float(wait_random_exponential(multiplier=self.base, max=self.cap)(state))


@dataclass(frozen=True, slots=True)
class Submitted:
    conversation_id: str
    job_id: str


@dataclass(slots=True)
class Upload:
    """How far a submission's body went: `complete` once its last byte was handed to the connection (a JSON
    body counts as complete from the start: it goes in one write)."""

    complete: bool = False


def escape_rsql(value: str) -> str:
    """A value inside an RSQL double-quoted string: backslash and quote escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _redacting(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Scrub secrets from any `ApiError` a public method raises (its class and attributes are kept)."""

    @functools.wraps(method)
    async def scrubbed(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except ApiError as exc:
            client = args[0]
            assert isinstance(client, SymblClient)
            exc.args = (client.redact(str(exc)),)
            raise

    return scrubbed


def encode_query(params: dict[str, Any]) -> dict[str, str]:
    """Async parameters in the query (§1): booleans as true/false, lists and objects JSON-encoded."""
    out = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | dict):
            out[key] = orjson.dumps(value).decode()
        else:
            out[key] = str(value)
    return out


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SymblClient:
    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        session: aiohttp.ClientSession,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 60.0,
        upload_timeout: float = 3600.0,
        max_body: int = MAX_BODY,
        redact: Iterable[str] = (),
    ) -> None:
        self._base = base_url.rstrip("/")
        self._app_id, self._app_secret = app_id, app_secret
        self._session = session
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._upload_timeout = aiohttp.ClientTimeout(total=upload_timeout, sock_read=timeout)
        self._max_body = max_body
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._secrets = [v for v in (app_secret, *redact) if len(v) >= MIN_SECRET]
        self._unreachable: tuple[float, str] | None = None  # when a token could not be had, and why

    def __repr__(self) -> str:
        return f"SymblClient(base_url={self._base!r})"  # never the secret or the token

    def redact(self, text: str) -> str:
        """`text` without the app secret, the token, the `redact` values or anything after "Bearer"."""
        for secret in [*self._secrets, *([self._token] if self._token else [])]:
            text = text.replace(secret, REDACTED)
        return _BEARER.sub(f"Bearer {REDACTED}", text)

    # --- auth ------------------------------------------------------------------------------------------
    async def _access_token(self, *, refused: str | None = None) -> str:
        """The current token; a new one when it is near its end or is the one just refused (several calls
        refused at once renew it once)."""
        async with self._token_lock:
            if self._token is None or self._token == refused or self._clock() >= self._renew_at:
                if self._unreachable is not None and self._clock() - self._unreachable[0] < self._retry.cap:
                    raise Unreachable(self._unreachable[1])  # the same outage: no second round of retries
                body = {"type": "application", "appId": self._app_id, "appSecret": self._app_secret}
                try:
                    answer = await self._retrying(
                        lambda: self._exchange("POST", "/oauth2/token:generate", json_body=body, auth=None)
                    )
                except Refused as exc:
                    raise CredentialsRefused(
                        f"{self._base}: the API refused the app id and secret (HTTP {exc.status}); "
                        "check SYMBL_APP_ID and SYMBL_APP_SECRET (or api.app_id / api.app_secret)"
                    ) from None
                except (Broken, Transport) as exc:
                    reason = (
                        f"{self._base}: no access token after {self._retry.attempts} tries ({self.redact(str(exc))}); "
                        "the API is unreachable or failing, check api.base_url and the network"
                    )
                    self._unreachable = (self._clock(), reason)
                    raise Unreachable(reason) from None
                self._unreachable = None
                token, expires = answer.get("accessToken"), answer.get("expiresIn")
                if not isinstance(token, str) or not isinstance(expires, int | float):
                    raise Broken("POST /oauth2/token:generate: the answer has no accessToken/expiresIn")
                self._token = token
                if len(token) >= MIN_SECRET:
                    self._secrets.append(token)  # an old token in a late error is scrubbed too
                self._renew_at = self._clock() + expires - min(300.0, expires / 10)
            return self._token

    @_redacting
    async def ready(self) -> None:
        """Have a valid token at hand, so that a submission can go out the moment its intent is written."""
        await self._access_token()

    async def _authorized(self, method: str, path: str, *, submit: bool = False, **kwargs: Any) -> Any:
        """One call with the current token; on 401, regenerate once and repeat it."""
        token = await self._access_token()
        try:
            return await self._exchange(method, path, auth=token, submit=submit, **kwargs)
        except Unauthorized:
            token = await self._access_token(refused=token)
            return await self._exchange(method, path, auth=token, submit=submit, **kwargs)

    # --- the wire --------------------------------------------------------------------------------------
    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        auth: str | None,
        submit: bool = False,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        upload: tuple[Path, int, str] | None = None,
        progress: Upload | None = None,
    ) -> Any:
        """Send one request and return its JSON; translate every failure into the package's errors."""
        progress = progress or Upload(complete=upload is None)
        headers = {"Accept": "application/json"}
        if auth is not None:
            headers["Authorization"] = f"Bearer {auth}"
        kwargs: dict[str, Any] = {
            "params": params,
            "headers": headers,
            "timeout": self._timeout,
            "allow_redirects": False,
        }
        if json_body is not None:
            body = orjson.dumps(json_body)
            # a submission's body is sent as a one-shot stream: aiohttp resends an idempotent method (a PUT
            # append) by itself when a kept-alive connection drops, but never a consumed stream, so a dropped
            # append surfaces as an unknown outcome, which the flow settles, instead of a second job
            kwargs["data"] = _once(body) if submit else body
            headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
        where = f"{method} {path}"
        try:
            async with contextlib.AsyncExitStack() as stack:
                if upload is not None:
                    file, size, content_type = upload
                    # opened here, not in a thread: an open cancelled mid-way in a thread would leak the file
                    raw = open(file, "rb")  # noqa: SIM115, ASYNC230 - closed by the stack; opening does not block
                    stack.callback(raw.close)
                    handle = aiofiles.threadpool.wrap(raw)
                    kwargs["data"] = _stream(handle, size, progress)
                    kwargs["timeout"] = self._upload_timeout
                    headers |= {"Content-Length": str(size), "Content-Type": content_type}
                async with self._session.request(method, self._base + path, **kwargs) as resp:
                    return await self._answer(where, resp, submit=submit)
        except ApiError:
            raise
        except aiohttp.ClientConnectorError as exc:  # nothing reached the server
            raise Transport(f"{where}: cannot connect ({exc.os_error.strerror or exc.os_error})") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if submit and not progress.complete:  # the body never went out whole: the server cannot have acted
                raise Transport(f"{where}: the upload did not complete ({type(exc).__name__}: {exc})") from exc
            kind = OutcomeUnknown if submit else Transport
            raise kind(f"{where}: no answer ({type(exc).__name__})") from exc

    async def _answer(self, where: str, resp: aiohttp.ClientResponse, *, submit: bool) -> Any:
        body = await self._read_capped(where, resp)
        if 200 <= resp.status < 300:
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                kind = OutcomeUnknown if submit else Broken  # a 2xx to a submission: the server acted
                raise kind(f"{where}: answer is not JSON ({resp.content_type})", status=resp.status) from None
        detail = _server_message(self.redact(body.decode("utf-8", "replace")))
        message = f"{where}: HTTP {resp.status}" + (f": {detail}" if detail else "")
        if resp.status >= 500:
            raise (OutcomeUnknown if submit else Broken)(message, status=resp.status)
        if 300 <= resp.status < 400:
            raise Broken(
                f"{where}: unexpected redirect (HTTP {resp.status}); the API does not redirect", status=resp.status
            )
        if resp.status == 429:
            raise RateLimited(message, retry_after=_retry_after(resp))
        error = {401: Unauthorized, 404: NotFound, 413: TooLarge}.get(resp.status, Refused)
        raise error(message, status=resp.status)

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """An idempotent call (a read, or token generation) retried on 5xx, resets, timeouts and 429."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._retry.wait,
            retry=retry_if_exception_type((Broken, Transport, RateLimited)),
            sleep=self._retry.sleep,
            reraise=True,
        ):
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_capped(self, where: str, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, but never more than `max_body` bytes in memory (a hostile server may send forever)."""
        too_big = Broken(f"{where}: answer larger than {self._max_body} bytes", status=resp.status)
        if resp.content_length is not None and resp.content_length > self._max_body:
            raise too_big
        body = bytearray()
        async for chunk in resp.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > self._max_body:
                raise too_big
        return bytes(body)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self._retrying(lambda: self._authorized("GET", path, params=params))

    # --- operations ------------------------------------------------------------------------------------
    @_redacting
    async def submit_file(
        self,
        file: Path,
        *,
        kind: str,
        size: int,
        content_type: str,
        params: dict[str, Any],
        conversation_id: str | None = None,
        progress: Upload | None = None,
    ) -> Submitted:
        path = f"/v1/process/{kind}" + (f"/{conversation_id}" if conversation_id else "")
        method = "PUT" if conversation_id else "POST"
        answer = await self._authorized(
            method,
            path,
            submit=True,
            params=encode_query(params),
            upload=(file, size, content_type),
            progress=progress or Upload(),
        )
        return _submitted(f"{method} {path}", answer)

    @_redacting
    async def submit_url(
        self, url: str, *, kind: str, params: dict[str, Any], conversation_id: str | None = None
    ) -> Submitted:
        path = f"/v1/process/{kind}/url" + (f"/{conversation_id}" if conversation_id else "")
        method = "PUT" if conversation_id else "POST"
        answer = await self._authorized(method, path, submit=True, json_body={"url": url, **params})
        return _submitted(f"{method} {path}", answer)

    @_redacting
    async def job_status(self, job_id: str) -> str:
        answer = await self._get(f"/v1/job/{job_id}")
        status = answer.get("status") if isinstance(answer, dict) else None
        if status not in ("scheduled", "in_progress", "completed", "failed"):
            raise Broken(f"GET /v1/job/{job_id}: status {repr(status)[:80]} is not in the contract")
        return str(status)

    @_redacting
    async def conversations_named(self, name: str, *, page: int = 100) -> list[dict[str, Any]]:
        """Every conversation with exactly this name, paging through all results (§13 #19); `Broken` when the
        listing stops making progress (a page of nothing new) or runs past `MAX_PAGES`."""
        found: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()
        for number in range(MAX_PAGES):
            params = {
                "filter": f'name=="{escape_rsql(name)}"',
                "limit": str(page),
                "offset": str(number * page),
                "order": "asc",
            }
            batch = _list(await self._get("/v1/conversations", params), "conversations", "GET /v1/conversations")
            ids = {str(c.get("id")) for c in batch}
            if batch and ids <= seen:
                raise Broken("GET /v1/conversations: the listing repeats itself (it ignores offset); cannot page it")
            seen |= ids
            found |= {str(c.get("id")): c for c in batch if c.get("name") == name and c.get("id") is not None}
            if len(batch) < page:
                return list(found.values())
        raise Broken(f"GET /v1/conversations: more than {MAX_PAGES} pages for one name; cannot page it")

    @_redacting
    async def read(self, conversation_id: str, part: str, key: str, **params: str) -> list[dict[str, Any]]:
        """One list endpoint of a conversation: messages, members, insights, questions, ... Messages and members
        are checked against the contract (ids present, times numbers) inside the retries: a malformed answer is
        read again, and never taken for evidence (a message without its id would look new)."""
        path = f"/v1/conversations/{conversation_id}/{part}"

        async def call() -> list[dict[str, Any]]:
            items = _list(await self._authorized("GET", path, params=params or None), key, f"GET {path}")
            if key == "messages":
                results.check_messages(path, items)
            elif key == "members":
                results.check_members(path, items)
            return items

        answer: list[dict[str, Any]] = await self._retrying(call)
        return answer

    @_redacting
    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        answer = await self._get(f"/v1/conversations/{conversation_id}")
        if not isinstance(answer, dict):
            raise Broken(f"GET /v1/conversations/{conversation_id}: not an object")
        return answer

    @_redacting
    async def put_member(self, conversation_id: str, member_id: str, *, name: str, email: str | None) -> None:
        body: dict[str, Any] = {"id": member_id, "name": name}
        if email is not None:
            body["email"] = email.strip().lower()
        await self._authorized("PUT", f"/v1/conversations/{conversation_id}/members/{member_id}", json_body=body)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _stream(handle: Any, size: int, progress: Upload) -> AsyncIterator[bytes]:
    """Exactly `size` bytes from an open file, in chunks; the caller owns (and closes) the handle."""
    remaining = size
    while remaining > 0:
        chunk = await handle.read(min(CHUNK, remaining))
        if not chunk:
            raise OSError("the file became shorter while it was being uploaded")
        remaining -= len(chunk)
        if remaining == 0:
            progress.complete = True
        yield chunk


def _server_message(body: str) -> str:
    """The answer's `message`, short; the body was already scrubbed of secrets (before this cut)."""
    try:
        message = orjson.loads(body).get("message", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return str(message)[:200]


def _submitted(where: str, answer: Any) -> Submitted:
    """A 2xx answer to a submission; if it is malformed the server still acted, so the outcome is unknown."""
    if not isinstance(answer, dict):
        raise OutcomeUnknown(f"{where}: the answer is not an object")
    conversation_id, job_id = answer.get("conversationId"), answer.get("jobId")
    if not isinstance(conversation_id, str | int) or not isinstance(job_id, str):
        raise OutcomeUnknown(f"{where}: the answer lacks conversationId/jobId")
    return Submitted(str(conversation_id), job_id)


def _list(answer: Any, key: str, where: str) -> list[dict[str, Any]]:
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Broken(f"{where}: the answer has no list '{key}'")
    return items
