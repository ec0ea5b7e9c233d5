"""Domain errors. Handlers map each kind to one HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The resource does not exist for this client (or belongs to another one)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} not found")
        self.kind = kind


class Unauthorized(DomainError):
    """The request carries no verified identity."""


class Forbidden(DomainError):
    """The caller is authenticated but its token does not say which client it acts for."""


class InvalidRequest(DomainError):
    """The request is well-formed but cannot be carried out as asked."""


class Conflict(DomainError):
    """The resource is in a state that forbids the operation (e.g. already running)."""


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key the client already used for a different request."""


class DependencyUnavailable(DomainError):
    """A service we depend on (Step Functions, the telephony provider) failed."""


class DeadlineExceeded(DomainError):
    """The work ran out of time before it could finish (its outcome is recorded);
    ``data`` names what the caller needs to follow it up, e.g. the call's uniqueId."""

    def __init__(self, message: str, data: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.data = data


class TooManyCalls(DomainError):
    """The client has as many calls in progress as its settings allow, or started as many
    this second: nothing was placed; ``data`` says when to try again."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.data = {"retryAfterSeconds": str(retry_after_seconds)}


class NotOwned(Forbidden):
    """An agent id or number that the account an agent would call with does not own, or that
    the operator's allow-list does not give this client on the shared default account."""
