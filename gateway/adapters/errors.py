"""Typed court errors. Every one names the court, so partial results can say which court is missing."""

from __future__ import annotations


class CourtError(Exception):
    """Base of every failure to get an answer from a court. ``code`` is the public error code;
    ``retry_after`` the seconds after which asking again may succeed, when that is known (the court's
    ``Retry-After``, or the time until the gateway probes a court whose circuit is open)."""

    code = "COURT_ERROR"
    retryable = False

    def __init__(self, court_code: str, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{court_code}: {message or self.code}")
        self.court_code = court_code
        self.message = message or self.code
        self.retry_after = retry_after


class CourtUnavailable(CourtError):
    """Connection refused, 5xx, a SOAP Fault of overload, an open circuit breaker."""

    code = "COURT_UNAVAILABLE"
    retryable = True


class CourtTimeout(CourtError):
    """No answer within the court's deadline."""

    code = "COURT_TIMEOUT"
    retryable = True


class CourtRateLimited(CourtError):
    """The court asked us to slow down; ``retry_after`` seconds when it said."""

    code = "COURT_RATE_LIMITED"
    retryable = True


class CourtRejected(CourtError):
    """The court understood the request and refused it (bad parameters, bad signature, a conflict)."""

    code = "COURT_REJECTED"


class CourtAuthFailed(CourtRejected):
    """Credentials refused even after renewing the token or session: a configuration problem."""

    code = "COURT_AUTH_FAILED"


class NotFoundAtCourt(CourtError):
    """The court has no such case, document or material."""

    code = "NOT_FOUND"


class NotSupported(CourtError):
    """The family (or the national platform) has no such operation."""

    code = "NOT_SUPPORTED"


class CourtUnsupported(NotSupported):
    """This court's system has no such operation at all (the oldest family has no form to enter a lawyer,
    the national platform has no cases to enter one on). Final: retrying or asking later never helps; services ask
    ``CourtAdapter.supports_agent_writes`` first instead of catching this."""

    code = "COURT_UNSUPPORTED"
