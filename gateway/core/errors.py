"""Refusals: what a service raises when the caller asked for something it will not do.

Each refusal carries the stable code a client acts on and a message fit to show that client (no
internals, and no more of the caller's input than a short, canonical form). The GraphQL layer maps
them to typed errors in one place (``gateway.errors.public_error``); services never import GraphQL.
Anything that is not a refusal (or a court's error, or an invalid case number) is a bug and is masked.
"""

from __future__ import annotations

from typing import ClassVar


class Refusal(Exception):
    """A request the gateway refuses; ``details`` become ``extensions`` beside ``code``."""

    code: ClassVar[str] = "BAD_USER_INPUT"

    def __init__(self, message: str, **details: str) -> None:
        super().__init__(message)
        self.details = details


class NotFoundError(Refusal):
    """Nothing the viewer may see has this key. Also what a viewer who may not see it is told, so that
    the answer never tells an outsider whether something exists."""

    code = "NOT_FOUND"


class NotPermitted(Refusal):
    """The viewer may see the thing but not do this with it."""

    code = "FORBIDDEN"


class ScopeNotGranted(NotPermitted):
    """A registered client's token lacks a scope this needs (``scope`` names it): the same code as the
    GraphQL layer's scope check, for checks only a domain service can make (e.g. per event type)."""

    code = "INSUFFICIENT_SCOPE"


class InvalidInput(Refusal):
    """Input that will not be accepted. ``reason`` is machine-readable (FILE_TYPE, CURSOR, …); ``file``
    names the upload it concerns."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, reason: str, file: str | None = None) -> None:
        details = {"reason": reason} | ({"file": file} if file is not None else {})
        super().__init__(message, **details)
        self.reason = reason
        self.file = file
