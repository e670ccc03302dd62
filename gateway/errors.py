"""Errors a client may act on. Each carries a stable ``extensions.code``; anything else is masked.

Court failures become errors too, one per missing court, beside the data the other courts gave.
``public_error`` is the one map from what the services raise (refusals, court errors, invalid case
numbers) to these errors: resolvers let those exceptions through and the schema's ``PublicErrors``
extension translates them, so no resolver repeats an ``except`` clause for them.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
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


class NotFound(GatewayError):
    code = "NOT_FOUND"


class ApplicationRequired(Forbidden):
    """Case files that need an approved application first (an archived case): apply with
    ``applyForArchiveAccess``."""

    code = "APPLICATION_REQUIRED"


class AccessWindowClosed(Forbidden):
    """An approved application whose reading window has closed: apply again to read more."""

    code = "ACCESS_WINDOW_CLOSED"


class InvalidCaseNumberError(GatewayError):
    code = "INVALID_CASE_NUMBER"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class CourtFailureError(GatewayError):
    """A court that could not answer; ``code`` is the court error's (COURT_UNAVAILABLE, …)."""

    def __init__(self, code: str, court: str, message: str, path: list[str | int] | None = None) -> None:
        GraphQLError.__init__(self, message, path=path, extensions={"code": code, "court": court})


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
        return CourtFailureError(error.code, error.court_code, message)
    return None


def translated(error: GraphQLError) -> GraphQLError:
    """``error`` with its original exception mapped by ``public_error`` (same path and locations)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    public = public_error(original)
    if public is None:
        return error
    return GraphQLError(
        public.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=public,
        extensions=public.extensions,
    )


def is_expected(error: GraphQLError) -> bool:
    """Errors the client may see unmasked: ours, and GraphQL's own syntax, validation and variable errors."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors carry no original exception
    # a variable that does not coerce (an unknown enum value, say) wraps GraphQL's own error
    return isinstance(original, GraphQLError)


def label_request_error(error: GraphQLError) -> None:
    """Give a variable that failed to coerce the code a client can act on (it has no path: the request
    never ran)."""
    if error.path is None and not (error.extensions or {}).get("code") and error.message.startswith("Variable '$"):
        error.extensions = {**(error.extensions or {}), "code": BadUserInput.code}


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
