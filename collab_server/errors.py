"""The server's exception hierarchy, mapped to HTTP statuses and WebSocket close codes
in this one place.

y-websocket stops reconnecting on close codes 4400-4499, so every "don't retry as is"
condition uses one of those; transient conditions use 1011/1013 and the client retries.
"""

from __future__ import annotations

from typing import ClassVar


class OrpheusError(Exception):
    """Base of every error the server reports to a client."""

    status: ClassVar[int] = 500
    close_code: ClassVar[int] = 1011
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()

    def to_json(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message}


class BadRequest(OrpheusError):
    """The request is malformed."""

    status, close_code, code = 400, 4400, "bad_request"


class ProtocolViolation(BadRequest):
    """A WebSocket message does not follow the y-websocket protocol."""

    code = "protocol_violation"


class Unauthenticated(OrpheusError):
    """No valid credentials were given."""

    status, close_code, code = 401, 4401, "unauthenticated"


class Forbidden(OrpheusError):
    """The credentials give no right to this score or action."""

    status, close_code, code = 403, 4403, "forbidden"


class ScoreNotFound(OrpheusError):
    """No such score."""

    status, close_code, code = 404, 4404, "not_found"


class NotAcceptable(OrpheusError):
    """The request does not accept the only media type this resource has."""

    status, close_code, code = 406, 4406, "not_acceptable"


class Conflict(OrpheusError):
    """The request conflicts with the current state."""

    status, close_code, code = 409, 4409, "conflict"


class StaleDocument(Conflict):
    """The client holds content from an older epoch of this score: reload it."""

    code = "stale_document"


class PayloadTooLarge(OrpheusError):
    """The upload or message is over the size limit."""

    status, close_code, code = 413, 1009, "payload_too_large"


class UnsupportedMedia(OrpheusError):
    """The file is not in a supported format."""

    status, close_code, code = 415, 4415, "unsupported_media_type"


class Unprocessable(OrpheusError):
    """The input is well-formed but cannot be used."""

    status, close_code, code = 422, 4422, "unprocessable"


class RateLimited(OrpheusError):
    """Too many requests: slow down."""

    status, close_code, code = 429, 4429, "rate_limited"

    def __init__(self, message: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DocumentTooLarge(PayloadTooLarge):
    """The update would grow the score beyond the document size limit."""

    close_code, code = 4413, "document_too_large"


class TooManyConnections(OrpheusError):
    """Too many live connections for this user or score; retry later."""

    status, close_code, code = 429, 1013, "too_many_connections"


class AccessChanged(OrpheusError):
    """The connection's rights grew: reconnect to use them."""

    status, close_code, code = 409, 1013, "access_changed"


class SlowClient(OrpheusError):
    """The client could not keep up with the room's updates; reconnect to resync."""

    status, close_code, code = 503, 1013, "slow_client"


class Unavailable(OrpheusError):
    """A backend is temporarily unavailable; retry shortly."""

    status, close_code, code = 503, 1013, "unavailable"
