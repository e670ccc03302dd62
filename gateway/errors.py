"""Errors a client may act on. Each carries a stable ``extensions.code``; anything else is masked.

Court failures become errors too, one per missing court, beside the data the other courts gave.
``public_error`` is the one map from what the services raise (refusals, court errors, invalid case
numbers) to these errors: resolvers let those exceptions through and the schema's ``PublicErrors``
extension translates them, so no resolver repeats an ``except`` clause for them.

At the edge, before anything runs, every refusal is typed too: an HTTP request that is not a GraphQL
request the gateway accepts is a ``RequestRefused`` (a GraphQL-shaped body with ``BAD_REQUEST`` or a
more precise code), a document that does not parse is ``GRAPHQL_PARSE_FAILED`` (``MAX_TOKENS_EXCEEDED``
past the token limit), one that does not validate ``GRAPHQL_VALIDATION_FAILED`` (the depth and alias
limits have codes of their own), and a variable that does not coerce ``BAD_USER_INPUT``. No message
quotes more than ``ECHO_CHARS`` characters of one value the client sent (``shortened``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.responses import PlainTextResponse, Response

from gateway.adapters.errors import CourtError
from gateway.casenumber import InvalidCaseNumber
from gateway.core.errors import Refusal


class GatewayError(GraphQLError):
    """An expected error: shown to the client as is (MaskErrors lets it through)."""

    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


class InsufficientScope(Forbidden):
    """A registered client's token without the scope this needs (or for an act no scope grants software,
    such as signing a served document): ``extensions.scope`` names the scope, if any would do."""

    code = "INSUFFICIENT_SCOPE"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class ApplicationRequired(Forbidden):
    """Case files that need an approved application first (an archived case): apply with
    ``applyForArchiveAccess``."""

    code = "APPLICATION_REQUIRED"


class AccessWindowClosed(Forbidden):
    """An approved application whose reading window has closed: apply again to read more."""

    code = "ACCESS_WINDOW_CLOSED"


class IntrospectionDisabled(GatewayError):
    """Schema introspection refused to this caller (``gateway.schema.introspection``)."""

    code = "INTROSPECTION_DISABLED"


class InvalidCaseNumberError(GatewayError):
    code = "INVALID_CASE_NUMBER"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class CourtFailureError(GatewayError):
    """A court that could not answer; ``code`` is the court error's (COURT_UNAVAILABLE, …)."""

    def __init__(
        self,
        code: str,
        court: str,
        message: str,
        path: list[str | int] | None = None,
        retry_after: float | None = None,
    ) -> None:
        extensions: dict[str, Any] = {"code": code, "court": court}
        if retry_after is not None:
            extensions["retryAfter"] = retry_after_seconds(retry_after)
        GraphQLError.__init__(self, message, path=path, extensions=extensions)


def retry_after_seconds(value: float) -> int:
    """``retryAfter`` as clients see it: whole seconds, rounded up (never 0 while a wait remains)."""
    return max(0, math.ceil(value))


#: what a client is told when a court failed a request that could not go on without it
COURT_REASONS = {
    "COURT_UNAVAILABLE": "is not answering right now",
    "COURT_TIMEOUT": "did not answer in time",
    "COURT_RATE_LIMITED": "asked the gateway to slow down",
    "COURT_AUTH_FAILED": "refused the gateway's credentials",
}


def public_error(error: Exception) -> GraphQLError | None:
    """The typed error a client sees for what a service raised; None for anything unexpected (masked)."""
    if isinstance(error, GraphQLError):
        return error
    if isinstance(error, Refusal):
        return GraphQLError(str(error), extensions={"code": error.code, **error.details})
    if isinstance(error, InvalidCaseNumber):
        return InvalidCaseNumberError(str(error))
    if isinstance(error, CourtError):
        reason = COURT_REASONS.get(error.code, "could not answer")
        message = f"{error.court_code} {reason}: nothing was done; try again later"
        return CourtFailureError(error.code, error.court_code, message, retry_after=error.retry_after)
    return None


def translated(error: GraphQLError) -> GraphQLError:
    """``error`` with its original exception mapped by ``public_error`` (same path and locations)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    public = public_error(original)
    if public is None:
        return error
    return _copy(error, public.message, public.extensions, original_error=public)


def public_form(error: GraphQLError) -> GraphQLError:
    """What the client is shown for ``error`` (unless it is masked): mapped by ``public_error``, typed,
    and quoting no more than a short prefix of any value it echoes. ``error`` itself is never changed
    (validation errors are cached and shared between requests)."""
    public = translated(error)
    extensions = public.extensions or {}
    code = extensions.get("code") or _request_error_code(public)
    message = shortened(public.message)
    if code == extensions.get("code") and message == public.message:
        return public
    return _copy(public, message, {**extensions, "code": code} if code else extensions)


def _request_error_code(error: GraphQLError) -> str | None:
    """The code of an error raised before execution (it has no path), from what raised it."""
    if isinstance(error, GraphQLSyntaxError):
        return MAX_TOKENS_EXCEEDED if "tokens. Parsing aborted" in error.message else PARSE_FAILED
    if error.path is not None or not is_expected(error):
        return None
    # graphql-core's own words for a variable that does not coerce (an unknown enum value, an Int overflow)
    return BadUserInput.code if error.message.startswith("Variable '$") else BAD_REQUEST


def _copy(
    error: GraphQLError, message: str, extensions: dict[str, Any] | None, original_error: Exception | None = None
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original_error or error.original_error,
        extensions=extensions,
    )


#: the longest run of a client's value quoted back in a message, and the longest message
ECHO_CHARS = 40
MAX_MESSAGE_CHARS = 300
_LONG_RUN = re.compile(rf"\S{{{ECHO_CHARS + 1},}}")


def shortened(message: str) -> str:
    """``message`` with every run of more than ``ECHO_CHARS`` characters without a space (a value the
    client sent, quoted or not) cut to that many plus "…", and the whole to ``MAX_MESSAGE_CHARS``: an
    error never echoes a client's 10 MB value back to it."""
    short = _LONG_RUN.sub(lambda m: m.group(0)[:ECHO_CHARS] + "…", message) if len(message) > ECHO_CHARS else message
    return short if len(short) <= MAX_MESSAGE_CHARS else short[:MAX_MESSAGE_CHARS] + "…"


def is_expected(error: GraphQLError) -> bool:
    """Errors the client may see unmasked: ours, and GraphQL's own syntax, validation and variable errors."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors carry no original exception
    # a variable that does not coerce (an unknown enum value, say) wraps GraphQL's own error
    return isinstance(original, GraphQLError)


#: codes of the refusals at the edge, before any resolver runs
BAD_REQUEST = "BAD_REQUEST"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
#: Strawberry's own HTTP refusals (a body that is not JSON, a GET with a mutation, …), by status
HTTP_CODES = {400: BAD_REQUEST, 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "DOCUMENT_TOO_LARGE"}


class RequestRefused(HTTPException):
    """An HTTP request refused before any GraphQL ran: answered as a GraphQL error body (``body``) with
    ``code`` and ``extensions``, so a client reads it like any other error."""

    def __init__(self, status: int, code: str, message: str, **extensions: Any) -> None:
        super().__init__(status, message)
        self.code = code
        self.extensions = extensions

    @classmethod
    def from_http(cls, error: HTTPException) -> RequestRefused:
        """Strawberry's plain-text refusal, typed by its status."""
        if isinstance(error, RequestRefused):
            return error
        return cls(error.status_code, HTTP_CODES.get(error.status_code, BAD_REQUEST), error.reason)

    def body(self) -> bytes:
        return error_body(shortened(self.reason), self.code, **self.extensions)


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """A GraphQL-shaped answer to a request that never reached execution."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]})


#: the HTTP status of a refusal on a plain route (the download links), by code
HTTP_STATUS = {
    "NOT_FOUND": 404,
    "LINK_EXPIRED": 410,
    "COURT_TIMEOUT": 504,
    "COURT_FILE_UNREADABLE": 502,
    "BAD_USER_INPUT": 400,
}


def http_refusal(error: Exception) -> tuple[int, str, str] | None:
    """``(status, code, message)`` for what a plain route's service raised; None when it is unexpected.
    Forbidden-like codes are 403 and court failures 503, unless named in ``HTTP_STATUS``."""
    public = public_error(error)
    if public is None:
        return None
    code = str((public.extensions or {}).get("code", "INTERNAL"))
    status = HTTP_STATUS.get(code, 503 if code.startswith("COURT_") else 403)
    return status, code, public.message


def refusal_response(error: Exception) -> Response:
    """A plain route's refusal, typed like a GraphQL error (``X-Error-Code``); re-raises the unexpected."""
    refused = http_refusal(error)
    if refused is None:
        raise error
    status, code, message = refused
    return PlainTextResponse(f"{code}: {message}", status_code=status, headers={"X-Error-Code": code})
