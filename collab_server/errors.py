"""The server's exception hierarchy, mapped to HTTP statuses and WebSocket close codes
in this one place, with the translation of every other exception into it
(:func:`as_orpheus_error`) and the HTTP answer (:func:`error_json`) that both the app's
exception handlers and the gate send.

y-websocket stops reconnecting on close codes 4400-4499, so every "don't retry as is"
condition uses one of those; transient conditions use 1013 ("try again later") and the
client retries; 1011 is left for bugs.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from persistence.errors import AlreadyExists, NotFound, StaleEpoch, StorageError

log = logging.getLogger("orpheus.errors")


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


def as_orpheus_error(exc: BaseException) -> OrpheusError:
    """Map any exception to the hierarchy (and so to a status and a close code)."""
    if isinstance(exc, OrpheusError):
        return exc
    if isinstance(exc, NotFound):
        return ScoreNotFound(str(exc))
    if isinstance(exc, AlreadyExists):
        return Conflict(str(exc))
    if isinstance(exc, StaleEpoch):
        return StaleDocument(str(exc))
    if isinstance(exc, StorageError):
        return Unavailable("storage is unavailable; retry shortly")
    return OrpheusError("internal error")


def report(exc: BaseException, what: str, **context: Any) -> OrpheusError:
    """``exc`` mapped, and logged by its kind: a traceback only for a bug (500), a
    warning line for an outage (503), nothing for the client's own mistakes."""
    error = as_orpheus_error(exc)
    if error.status == 500:
        log.error(what, exc_info=exc, extra=context)
    elif error.status >= 500 and exc is not error:
        log.warning("%s: %s", what, exc, extra={**context, "error": error.code})
    return error


def error_json(error: OrpheusError) -> JSONResponse:
    """The HTTP answer for ``error``: its JSON, status and headers."""
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error.to_json(), status_code=error.status, headers=headers)


async def error_response(request: Request, exc: Exception) -> Response:
    """The app's exception handler for everything but Starlette's own HTTP errors."""
    return error_json(report(exc, "request failed", path=request.url.path))


async def http_error_response(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": "http_error", "message": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    OrpheusError: error_response,
    StorageError: error_response,
    HTTPException: http_error_response,
    Exception: error_response,
}
"""The app's ``exception_handlers``."""
