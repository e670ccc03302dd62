"""Every domain service, built once at start-up over one :class:`Runtime`, and the background workers.

``Services`` is the runtime plus the services (so the runtime's clock and settings are the services'
too); resolvers reach them as ``info.context.services.<domain>``. The only per-request state lives in
``gateway.context.Context``. Building order follows the calls between domains: cases and documents
first, then the workflows that use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.archive.reading import ReadingService
from gateway.archive.service import ArchiveService
from gateway.bindings.outbox import BindingOutbox
from gateway.bindings.service import BindingService
from gateway.calendar.service import CalendarService
from gateway.cases.service import CaseService
from gateway.config import Settings
from gateway.core.deadlines import EscalationScheduler
from gateway.core.runtime import Runtime
from gateway.documents.certificate import CertificateService
from gateway.documents.outbox import SignatureOutbox
from gateway.documents.service import DocumentService
from gateway.documents.signing import SigningService
from gateway.filings.outbox import FilingOutbox
from gateway.filings.service import FilingService
from gateway.notifications.sms import SmsWorker
from gateway.oauth.service import OAuthService
from gateway.tickets.service import TicketService
from gateway.webhooks.grants import Grants
from gateway.webhooks.outbox import WebhookOutbox
from gateway.webhooks.service import WebhookService


@dataclass(eq=False)
class Services(Runtime):
    """The runtime and the domain services built on it (``Runtime``'s convention: runtime, then peers)."""

    cases: CaseService = field(init=False)
    documents: DocumentService = field(init=False)
    signing: SigningService = field(init=False)
    certificates: CertificateService = field(init=False)
    filings: FilingService = field(init=False)
    archive: ArchiveService = field(init=False)
    reading: ReadingService = field(init=False)
    tickets: TicketService = field(init=False)
    bindings: BindingService = field(init=False)
    oauth: OAuthService = field(init=False)
    #: whether a person still authorises a client (webhooks and calendar feeds ask): the OAuth grants
    grants: Grants = field(init=False)
    webhooks: WebhookService = field(init=False)
    calendar: CalendarService = field(init=False)

    def __post_init__(self) -> None:
        self.cases = CaseService(self)
        self.documents = DocumentService(self)
        self.signing = SigningService(self, self.documents)
        self.certificates = CertificateService(self)
        self.filings = FilingService(self, self.cases)
        self.archive = ArchiveService(self)
        self.reading = ReadingService(self, self.archive)
        self.tickets = TicketService(self, self.cases)
        self.bindings = BindingService(self)
        self.oauth = OAuthService(self)
        self.grants = self.oauth
        self.webhooks = WebhookService(self, self.grants)
        self.calendar = CalendarService(self, self.cases, self.documents, self.signing, self.grants)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        runtime = Runtime.from_settings(settings)
        return cls(**{name: getattr(runtime, name) for name in runtime.__dataclass_fields__})


def build_services(settings: Settings) -> Services:
    return Services.from_settings(settings)


def build_workers(services: Services) -> None:
    """Every background worker, one line each: outboxes and the escalation scheduler."""
    services.workers.add(SmsWorker.from_settings(services.store, services.settings, clock=services.now))
    services.workers.add(FilingOutbox(services, clock=services.now))
    services.workers.add(SignatureOutbox.from_services(services))
    services.workers.add(EscalationScheduler(services))
    services.workers.add(BindingOutbox.from_services(services))
    services.workers.add(WebhookOutbox(services.store, services.settings, services.grants, clock=services.now))
