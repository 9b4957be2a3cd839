"""Errors of the collector, each mapped to one HTTP answer."""

from __future__ import annotations


class CollectorError(Exception):
    """Base of the collector's errors: carries the HTTP status and the message for the client."""

    status = 500

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class BadRequest(CollectorError):
    status = 400


class Unauthorized(CollectorError):
    status = 401


class Forbidden(CollectorError):
    status = 403


class RequestTimeout(CollectorError):
    status = 408


class TooLarge(CollectorError):
    status = 413


class RateLimited(CollectorError):
    status = 429


class Unavailable(CollectorError):
    status = 503
