"""The exception tree of the `batch` package (the client side). Nothing else escapes the library.

    BatchError
    ├── InputError              bad manifest, media or configuration; exit code 2; nothing was sent
    │   └── CredentialsRefused  the API refused the app id and secret (the run stops)
    ├── StateError              the state store is unreadable, corrupt or from a newer version
    │   ├── LockedError         another run holds the state's (or the output folder's) lock; exit code 3
    │   └── StateWriteError     the state cannot be written now (disk full, file removed): the run stops; exit 1
    └── ApiError                anything the remote API or the network did
        ├── Refused             a definite 4xx answer: the server did not act
        │   ├── Unauthorized    401 (the client regenerates its token once, then raises)
        │   ├── NotFound        404
        │   ├── TooLarge        413
        │   └── RateLimited     429: no job slot; carries Retry-After when the server sent one
        ├── Broken              a 5xx, or an answer that is not the contract's JSON: retry may help
        ├── Unreachable         no access token after every retry: the API is down or unreachable (the run stops)
        └── Transport           connection refused/reset, timeout
            └── OutcomeUnknown  a submission whose answer was lost after it may have been acted on

`Refused` is safe to redo after fixing its cause; `OutcomeUnknown` never is until resolved
(docs/api-contract.md §13 #18).
"""

from __future__ import annotations


class BatchError(Exception):
    """Root of every error the batch package raises."""


class InputError(BatchError):
    """The user's input or configuration is invalid; the message names the file, line or field."""


class CredentialsRefused(InputError):
    """token:generate answered 4xx: the configured app id or secret is wrong; nothing more can be sent."""


class StateError(BatchError):
    """The state store cannot be used as it is."""


class LockedError(StateError):
    """Another run holds the lock on this state."""


class StateWriteError(StateError):
    """A transition could not be committed (disk full, I/O error) or the state file vanished mid-run."""


class ApiError(BatchError):
    """The API or the network failed a call. `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Refused(ApiError):
    """A definite 4xx refusal: the server did not act on the request."""


class Unauthorized(Refused):
    pass


class NotFound(Refused):
    pass


class TooLarge(Refused):
    pass


class RateLimited(Refused):
    """429: the account's concurrent-job limit is reached."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class Broken(ApiError):
    """A 5xx answer or a body that breaks the contract; a retry may help."""


class Unreachable(ApiError):
    """The API could not be reached (or kept failing) for a token: nothing can be sent until it is back."""


class Transport(ApiError):
    """No usable answer: connection refused or reset, or a timeout."""


class OutcomeUnknown(Transport):
    """A submission's answer was lost after the request may have reached the server."""
