"""Typed API errors of the emulator: each carries the HTTP status and the JSON body the contract documents.

    ApiError
    ├── BadRequest          400  a parameter, header or body the contract rejects
    ├── Unauthorized        401  missing, unknown or expired token; bad app credentials
    ├── NotFound            404  unknown conversation, member or job
    ├── MethodNotAllowed    405
    ├── PayloadTooLarge     413  upload above --max-upload-bytes (§13 #15)
    ├── TooManyJobs         429  account concurrency limit reached (§5, §13 #1-2)
    └── NotEmulated         501  a documented endpoint this emulator does not implement

The backend raises them; the routes turn them into responses. Nothing here knows about HTTP libraries.
"""

from __future__ import annotations

from typing import Any

TOKEN_INVALID = "Token validation failed for provided token."  # noqa: S105 - an error message, not a secret
CONVERSATION_MISSING = "The conversationId is either invalid or does not exist."


class ApiError(Exception):
    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str = TOKEN_INVALID) -> None:
        super().__init__(message)


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class PayloadTooLarge(ApiError):
    status = 413


class TooManyJobs(ApiError):
    status = 429

    def __init__(self, limit: int, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            f"This API has a limit of maximum of `{limit}` number of concurrent jobs per account. "
            "If you are looking to scale, and need more concurrent jobs than this limit, "
            "please contact us at support@symbl.ai",
            headers=headers,
        )

    def body(self) -> dict[str, Any]:
        return {"statusCode": 429, "message": self.message}


class NotEmulated(ApiError):
    status = 501
