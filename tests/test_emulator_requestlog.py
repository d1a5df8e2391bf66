"""The emulator's request log redacts what would let a reader post to a client's webhook receiver."""

from __future__ import annotations

import pytest

from batch.emulator.requestlog import redacted_query


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("", ""),
        ("name=a&languageCode=en-US", "name=a&languageCode=en-US"),
        (
            "name=a&webhookUrl=http%3A%2F%2F127.0.0.1%3A8787%2Fsymbl-batch%2Fs3cret&x=1",
            "name=a&webhookUrl=http%3A%2F%2F127.0.0.1%3A8787%2Fredacted&x=1",
        ),
        (
            "webhookUrl=https://user:pw@hooks.example.com/h/s3cret?k=v",
            "webhookUrl=https%3A%2F%2Fhooks.example.com%2Fredacted",
        ),
        ("webhookUrl=http%3A%2F%2F%5B%3A%3A1%5D%3A9%2Fs3cret", "webhookUrl=http%3A%2F%2F%5B%3A%3A1%5D%3A9%2Fredacted"),
        ("webhook%55rl=http://h/s3cret", "webhook%55rl=http%3A%2F%2Fh%2Fredacted"),
        ("webhookUrl=http://[bad/s3cret", "webhookUrl=redacted"),
        ("webhookUrl", "webhookUrl"),
    ],
)
def test_the_webhook_path_never_reaches_the_request_log(query: str, logged: str) -> None:
    """Only a webhookUrl's scheme, host and port are kept (no path, query or user info); other parameters are
    logged as sent."""
    assert redacted_query(query) == logged
    assert "s3cret" not in redacted_query(query)
