"""The adapter contract: what the gateway may ask of any court, whatever its vintage.

Like httpx's ``AsyncBaseTransport``, this is a small interface that several transports plug in
behind. An adapter speaks one legacy family's protocol and returns only the canonical model
(``gateway.adapters.model``); tokens, sessions, signatures, encodings, date styles and page-size
limits never leave it. Every adapter owns one ``aiohttp.ClientSession`` for its lifetime and must be
closed with ``aclose()``.

Failures are the typed errors of ``gateway.adapters.errors``; an adapter does not retry on its own
beyond renewing an expired token or session once: retries, deadlines, concurrency limits and the
circuit breaker live in ``gateway.adapters.resilience`` around it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Self

from gateway.adapters.model import (
    Agent,
    AgentReceipt,
    Case,
    CaseFileVolume,
    CasePage,
    CaseScope,
    ChangePage,
    Filing,
    FilingReceipt,
    MaterialContent,
    PersonRef,
    ServedDocument,
    Signature,
    SignatureReceipt,
    Staff,
)
from gateway.config import CourtConfig


class CourtAdapter(abc.ABC):
    """One court (or the national platform) behind one legacy protocol."""

    #: largest page ``list_cases`` can return in one call to this family
    max_page_size: int = 20
    #: whether ``add_agent`` can enter a lawyer at this court; when False it raises ``CourtUnsupported``
    supports_agent_writes: bool = False

    def __init__(self, court: CourtConfig) -> None:
        self.court = court

    # -- reads ---------------------------------------------------------------------------------

    @abc.abstractmethod
    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        """One page of the cases where ``who`` is a party or an agent, newest filing first.

        ``position`` is the ``next_position`` of the previous page (None for the first page); ``limit``
        is capped at ``max_page_size``.
        """

    @abc.abstractmethod
    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        """One page of the court's own cases within a staff scope, newest filing first (same paging as
        ``list_cases``). The national platform raises NotSupported."""

    @abc.abstractmethod
    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """The cases with these court-local ids, in the order asked; unknown ids are left out.

        Uses the family's batch call where it has one, bounded parallel single gets where not.
        """

    @abc.abstractmethod
    async def find_case(self, case_number: str) -> Case | None:
        """The case with this canonical case number, or None."""

    @abc.abstractmethod
    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        """Every document this court (or platform) served to ``who``, signed or not."""

    @abc.abstractmethod
    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        """The case file: 正卷 and 副卷 volumes with their materials (without content)."""

    @abc.abstractmethod
    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        """One material's content (PDF bytes)."""

    @abc.abstractmethod
    async def list_staff(self) -> list[Staff]:
        """The court's whole staff roster (judges, clerks, 庭长, 院领导, archive administrators, assessors),
        in the court's own order, in one call or one paged walk. The national platform, which has no
        staff, returns an empty list."""

    @abc.abstractmethod
    async def changes(self, cursor: str | None) -> ChangePage:
        """Events after ``cursor`` (None: from the start of the feed), oldest first, and where to resume."""

    # -- writes: idempotent by key, so a retry never makes a second record at the court ----------

    @abc.abstractmethod
    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        """Deliver materials; the same ``idempotency_key`` twice yields the same receipt."""

    @abc.abstractmethod
    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        """Record a signature for a served document; signing twice keeps the first signature."""

    @abc.abstractmethod
    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        """Enter ``agent`` as a lawyer on the case, as the court's clerk would; the case then appears in the
        lawyer's ``list_cases``. The same key twice records once and returns the first receipt. Raises
        ``CourtUnsupported`` where ``supports_agent_writes`` is False."""

    # -- lifetime ------------------------------------------------------------------------------

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Close the adapter's HTTP session."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
