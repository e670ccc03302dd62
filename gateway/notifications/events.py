"""The public names of the notices firm software may follow, and the scope each needs.

One stream serves every reader: the in-app notices ``notify`` records are what ``changes`` pages
through and what webhooks deliver, so a firm's sync, its webhooks and the person's own notification
list never disagree. This module only names them: ``document.served`` is a DOCUMENT_SERVED notice.
Kinds not listed here (escalations, staff work) are never shown to firm software.

Keyed by the kind's value (not ``NotificationKind``), so the webhook fan-out that ``notify`` calls can
read it without importing the notification service.
"""

from __future__ import annotations

from gateway.identity import Scope

#: notification kind → public event type
EVENT_TYPES: dict[str, str] = {
    "DOCUMENT_SERVED": "document.served",
    "HEARING_SCHEDULED": "hearing.scheduled",
    "FILING_DELIVERED": "filing.delivered",
    "FILING_HANDLED": "filing.handled",
    "TICKET_ANSWERED": "ticket.answered",
    "BINDING_DECIDED": "binding.decided",
}

#: public event type → the scope a client needs to learn of it
EVENT_SCOPES: dict[str, Scope] = {
    "document.served": Scope.DOCUMENTS_READ,
    "hearing.scheduled": Scope.CASES_READ,
    "filing.delivered": Scope.CASES_READ,
    "filing.handled": Scope.CASES_READ,
    "ticket.answered": Scope.CASES_READ,
    "binding.decided": Scope.CASES_READ,
}

KIND_OF_EVENT = {event: kind for kind, event in EVENT_TYPES.items()}


def visible_kinds(scopes: frozenset[str] | None) -> list[str]:
    """The notification kinds a caller with ``scopes`` may follow (None: a first-party token, all)."""
    return [kind for kind, event in EVENT_TYPES.items() if scopes is None or EVENT_SCOPES[event] in scopes]
