"""Webhook delivery (§8, §13 #13): one POST of {"jobId", "id", "status"} per transition, one attempt, no signature.

Only loopback and allowed hosts are called; a webhook to any other host is counted as suppressed, so the
emulator never sends traffic off the machine.
"""

from __future__ import annotations

from collections import Counter

import aiohttp

from batch.emulator.backend import Transition
from batch.emulator.fetch import host_allowed

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=5)


async def deliver(
    session: aiohttp.ClientSession, transition: Transition, *, allowed_hosts: tuple[str, ...], stats: Counter[str]
) -> None:
    url = transition.webhook_url
    if url is None:
        return
    if not host_allowed(url, allowed_hosts):
        stats["webhooks_suppressed"] += 1
        return
    body = {"jobId": transition.job_id, "id": transition.job_id, "status": transition.status.value}
    try:
        async with session.post(url, json=body, timeout=WEBHOOK_TIMEOUT) as resp:
            await resp.read()
        stats["webhooks_sent"] += 1
    except (TimeoutError, aiohttp.ClientError):
        stats["webhooks_failed"] += 1
