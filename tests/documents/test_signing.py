"""Signing served documents: the effective-service rule, the mutation over HTTP, and the outbox.

The rule is tested as a table (pure functions). The mutation runs against the real simulators over
real HTTP on SQLite (the ``gateway`` fixture). The service layer and the outbox run on SQLite and on
PostgreSQL (when ``GATEWAY_TEST_POSTGRES_URL`` names a server), driven round by round, so outages,
retries and lost answers happen exactly where the test puts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from gateway.adapters.errors import CourtRejected, CourtTimeout
from gateway.adapters.model import CHINA_TZ, PersonRef, ServedDocument, ServiceChannel, Signature
from gateway.config import Settings
from gateway.core.outbox import RetryPolicy
from gateway.documents.outbox import SignatureOutbox
from gateway.documents.service import ServedDocumentGroup
from gateway.documents.service_time import ProceduralAct, ServiceRule, copy_effective, effective_service
from gateway.documents.signing import effective_of, group_key, with_signature
from gateway.identity import IdentityLevel, Role, Viewer
from gateway.notifications.service import person_key
from gateway.schema.common import global_id
from gateway.services import Services, build_services
from gateway.store import Store
from gateway.store.audit import verify
from gateway.store.migrate import upgrade_async
from gateway.store.models import AuditRecord
from gateway.store.notifications import InAppNotification
from gateway.store.signatures import SignatureRecord, SignatureStatus
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)
PLATFORM = "全国送达平台"
T = TypeVar("T")


# -- the rule (在线诉讼规则 art. 29–31), as a table ----------------------------------------------------


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CHINA_TZ)


def copy(
    channel: ServiceChannel = ServiceChannel.COURT_PLATFORM,
    *,
    served: datetime,
    confirmed: bool,
    signed: datetime | None = None,
    source: str = "粤0104",
    document_id: str = "D1",
) -> ServedDocument:
    return ServedDocument(
        document_id=document_id,
        source_code=source,
        court_code="粤0104",
        case_number="（2026）粤0104民初1号",
        title="（2026）粤0104民初1号传票",
        doc_type="传票",
        addressee_name="王某",
        addressee=PersonRef.party("440104199001011234"),
        channel=channel,
        served_at=served,
        address_confirmed=confirmed,
        signed_at=signed,
        fingerprint="f1",
    )


def test_a_confirmed_address_is_effective_when_the_document_reaches_it() -> None:
    effective = effective_service([copy(served=at(2), confirmed=True, signed=at(5))])
    assert effective is not None
    assert (effective.at, effective.rule) == (at(2), ServiceRule.CONFIRMED_ADDRESS)


def test_an_unconfirmed_address_is_effective_only_when_signed_or_acted_on() -> None:
    unsigned = copy(served=at(2), confirmed=False)
    assert copy_effective(unsigned) is None
    assert effective_service([unsigned]) is None, "nothing is effective until the person signs"
    effective = effective_service([replace(unsigned, signed_at=at(4, 15))])
    assert effective is not None
    assert (effective.at, effective.rule) == (at(4, 15), ServiceRule.SIGNED_OR_ACTED)


def test_an_unconfirmed_channel_signed_earlier_beats_a_confirmed_one_that_arrived_later() -> None:
    confirmed_later = copy(ServiceChannel.NATIONAL_PLATFORM, served=at(6), confirmed=True, source=PLATFORM)
    signed_earlier = copy(served=at(2), confirmed=False, signed=at(3))
    effective = effective_service([signed_earlier, confirmed_later])
    assert effective is not None
    assert (effective.at, effective.channel, effective.rule) == (
        at(3),
        ServiceChannel.COURT_PLATFORM,
        ServiceRule.SIGNED_OR_ACTED,
    )


def test_the_earliest_effective_channel_counts() -> None:
    copies = [
        copy(ServiceChannel.COURT_PLATFORM, served=at(3), confirmed=True),
        copy(ServiceChannel.NATIONAL_PLATFORM, served=at(2, 7), confirmed=True, source=PLATFORM),
        copy(ServiceChannel.SMS, served=at(1), confirmed=False),  # arrived first, but never confirmed nor signed
        copy(ServiceChannel.EMAIL, served=at(2, 8), confirmed=False, signed=at(2, 10)),
    ]
    effective = effective_service(copies)
    assert effective is not None
    assert (effective.at, effective.channel, effective.source_code) == (
        at(2, 7),
        ServiceChannel.NATIONAL_PLATFORM,
        PLATFORM,
    )
    assert effective_service([]) is None


def test_an_act_in_the_case_after_the_document_reached_an_unconfirmed_address_is_service() -> None:
    """Art. 31 ¶2: a filing (or other act) after the document reached the person counts as service then;
    one before it reached them does not; whichever of signature and act came first counts."""
    unsigned = copy(served=at(2), confirmed=False)
    before = ProceduralAct(at(1), "FILING", "提交答辩状《答辩状》", "F0")
    filed = ProceduralAct(at(3, 9), "FILING", "提交答辩状《答辩状》", "F1")
    assert effective_service([unsigned], [before]) is None, "an act before the document reached them is no reply"
    effective = effective_service([unsigned], [before, filed])
    assert effective is not None
    assert (effective.at, effective.rule, effective.act) == (at(3, 9), ServiceRule.SIGNED_OR_ACTED, filed)
    signed_later = replace(unsigned, signed_at=at(4))
    assert effective_service([signed_later], [filed]) == effective, "the act came first"
    signed_first = replace(unsigned, signed_at=at(3, 8))
    by_signature = effective_service([signed_first], [filed])
    assert by_signature is not None and (by_signature.at, by_signature.act) == (at(3, 8), None)
    confirmed = copy(served=at(2), confirmed=True)
    by_address = effective_service([confirmed], [filed])
    assert by_address is not None and (by_address.at, by_address.act) == (at(2), None), "a confirmed address wins"


def test_the_gateways_own_signature_counts_until_the_court_records_its_time() -> None:
    group = ServedDocumentGroup((copy(served=at(2), confirmed=False),))
    record = SignatureRecord(
        source_code="粤0104",
        document_id="D1",
        signed_at=at(4).astimezone(UTC),
        status=SignatureStatus.PENDING,
        court_signed_at=None,
    )
    assert effective_of(group, None) is None
    pending = effective_of(group, record)
    assert pending is not None and pending.at == at(4)
    record.status, record.court_signed_at = SignatureStatus.DELIVERED, at(4, 9, 1)
    delivered = effective_of(group, record)
    assert delivered is not None and delivered.at == at(4, 9, 1)
    record.status = SignatureStatus.REJECTED
    assert effective_of(group, record) is None, "a signature the court refused proves nothing"
    assert with_signature(group, None) is group


# -- helpers ---------------------------------------------------------------------------------------------


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


def serve_fresh(
    cluster: SimulatorCluster, world: World, court: str, login: str = "party-wang", *, confirmed: bool = False
) -> ServedDocument:
    """A new document served by the court's own staff, so no other test has touched it.

    Its DOCUMENT_SERVED event is taken back out of the court's change feed (before any await, so no
    follower sees it): signing does not depend on it, and tests/feeds/test_sync.py counts every service notice
    party-wang gets in the session's shared database.
    """
    who = person(world, login)
    state = cluster.court_state(court)
    case = state.cases_of(who)[-1]  # [0] is where other suites serve theirs
    doc = cluster.desk(court).serve_document(
        case.case_id, who, f"举证通知书{uuid.uuid4().hex[:6]}", "通知书", address_confirmed=confirmed
    )
    state.events = [e for e in state.events if e.document_id != doc.document_id]
    return doc


def serve_on_platform_only(cluster: SimulatorCluster, world: World, court: str) -> ServedDocument:
    """A document the national platform served for a court, on that channel only."""
    own = serve_fresh(cluster, world, court)
    del cluster.court_state(court).extra_documents[own.document_id]
    doc = replace(
        own, document_id=f"NP-{own.document_id}", source_code=PLATFORM, channel=ServiceChannel.NATIONAL_PLATFORM
    )
    cluster.state(PLATFORM).extra_documents[doc.document_id] = doc
    return doc


def doc_id(doc: ServedDocument) -> str:
    return global_id("ServedDocument", f"{doc.source_code}|{doc.document_id}")


def viewer_of(world: World, login: str, level: IdentityLevel = IdentityLevel.REAL_NAME) -> Viewer:
    p = world.demo[login]
    lawyer = p.kind.value == "LICENCE_NUMBER"
    return Viewer(
        subject=login,
        name=p.name,
        phone=p.phone,
        roles=frozenset({Role.LAWYER if lawyer else Role.PARTY}),
        level=level,
        id_number=None if lawyer else p.number,
        licence_number=p.number if lawyer else None,
    )


async def wait_for(check: Callable[[], Awaitable[T]], seconds: float = 10.0) -> T:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await check()
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def signature_row(store: Store, signature_id: str) -> SignatureRecord:
    async with store.session(read_only=True) as session:
        row = await session.get(SignatureRecord, signature_id)
        assert row is not None
        return row


async def count(store: Store, model: type[Any], *where: Any) -> int:
    async with store.session(read_only=True) as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


def outbox_of(services: Services) -> SignatureOutbox:
    return next(w for w in services.workers.workers if isinstance(w, SignatureOutbox))


# -- over HTTP, against the simulators (SQLite) ---------------------------------------------------------

SIGN = """
mutation ($id: ID!, $method: SignatureMethod) {
  signDocument(documentId: $id, method: $method) {
    id documentId sourceCode status signedAt identityLevel method signerName attempts courtSignedAt
  }
}"""
DOCUMENT = """
query ($id: ID!) {
  node(id: $id) {
    ... on ServedDocument {
      id signed effectiveServiceAt effectiveChannel effectiveRule
      deliveries { sourceCode signedAt }
      signature { id status courtSignedAt deliveredAt }
    }
  }
}"""


@pytest.fixture
def http_services(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


async def delivered(services: Services, signature_id: str) -> SignatureRecord:
    async def check() -> SignatureRecord | None:
        row = await signature_row(services.store, signature_id)
        return row if row.status == SignatureStatus.DELIVERED else None

    found = await wait_for(check)
    assert found is not None, (
        f"signature {signature_id} was not delivered: {await signature_row(services.store, signature_id)}"
    )
    return found


# one court of each family: v2-rest, soap-gbk, csv-export, jsonrpc-sign. party-wang's only jsonrpc-sign
# court is 粤0104, where tests/feeds/test_sync.py counts the documents served on her: lawyer-chen signs at 粤0106.
@pytest.mark.parametrize(
    ("court", "login"),
    [("粤01", "party-wang"), ("粤0105", "party-wang"), ("粤0115", "party-wang"), ("粤0106", "lawyer-chen")],
)
async def test_a_person_served_signs_and_the_court_records_it_once(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World, court: str, login: str
) -> None:
    doc = serve_fresh(cluster, world, court, login)
    await http_services.cache.bump(court)
    before = (await gateway.query(DOCUMENT, {"id": doc_id(doc)}, as_=login))["data"]["node"]
    assert before["signed"] is False and before["effectiveServiceAt"] is None and before["signature"] is None

    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_=login)
    assert "errors" not in body, body
    signature = body["data"]["signDocument"]
    assert signature["status"] == "PENDING", "answered as soon as it is stored, before delivery"
    assert (signature["documentId"], signature["sourceCode"]) == (doc_id(doc), court)
    level = "REAL_NAME" if login == "party-wang" else "FACE"  # the demo identity provider's levels
    assert (signature["identityLevel"], signature["method"]) == (level, "ONLINE_CONFIRMATION")
    assert signature["signerName"] == doc.addressee_name

    record = await delivered(http_services, signature["id"])
    assert cluster.state(court).signatures[doc.document_id].deliveries == 1
    after = (await gateway.query(DOCUMENT, {"id": doc_id(doc)}, as_=login))["data"]["node"]
    assert after["signed"] is True
    assert after["signature"]["status"] == "DELIVERED"
    court_signed = datetime.fromisoformat(after["deliveries"][0]["signedAt"])
    assert record.court_signed_at == court_signed
    assert datetime.fromisoformat(after["effectiveServiceAt"]) == court_signed
    assert (after["effectiveChannel"], after["effectiveRule"]) == ("COURT_PLATFORM", "SIGNED_OR_ACTED")

    again = await gateway.query(SIGN, {"id": doc_id(doc), "method": "E_SEAL"}, as_=login)
    assert again["data"]["signDocument"]["id"] == signature["id"], "signing again returns the first signature"
    assert again["data"]["signDocument"]["method"] == "ONLINE_CONFIRMATION"
    await asyncio.sleep(0.2)
    assert cluster.state(court).signatures[doc.document_id].deliveries == 1

    store = http_services.store
    signer = person_key(person(world, login))
    notices = InAppNotification.recipient_key == signer, InAppNotification.dedupe_key == f"signature:{signature['id']}"
    assert await count(store, InAppNotification, *notices) == 1
    actions = AuditRecord.subject_id == signature["id"]
    assert await count(store, AuditRecord, actions, AuditRecord.action == "signature.recorded") == 1
    assert await count(store, AuditRecord, actions, AuditRecord.action == "signature.delivered") == 1


async def test_a_document_served_by_the_platform_is_signed_at_the_platform(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World
) -> None:
    doc = serve_on_platform_only(cluster, world, "粤0115")
    await http_services.cache.bump(PLATFORM)
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_="party-wang")
    assert body["data"]["signDocument"]["sourceCode"] == PLATFORM
    await delivered(http_services, body["data"]["signDocument"]["id"])
    assert cluster.state(PLATFORM).signatures[doc.document_id].deliveries == 1
    assert doc.document_id not in cluster.state("粤0115").signatures


async def test_a_lawyer_signs_what_was_served_on_them(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World
) -> None:
    doc = serve_fresh(cluster, world, "粤01", "lawyer-chen", confirmed=True)
    await http_services.cache.bump("粤01")
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_="lawyer-chen")
    assert body["data"]["signDocument"]["identityLevel"] == "FACE"
    await delivered(http_services, body["data"]["signDocument"]["id"])
    node = (await gateway.query(DOCUMENT, {"id": doc_id(doc)}, as_="lawyer-chen"))["data"]["node"]
    # a confirmed address: effective when it arrived, not when signed
    assert datetime.fromisoformat(node["effectiveServiceAt"]) == doc.served_at
    assert node["effectiveRule"] == "CONFIRMED_ADDRESS"


async def test_a_phone_verified_identity_may_not_sign(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    doc = serve_fresh(cluster, world, "粤0105")
    token = mint(world, settings, "party-wang", level="PHONE")
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert doc.document_id not in cluster.state("粤0105").signatures


async def test_someone_elses_document_is_not_found(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World
) -> None:
    doc = serve_fresh(cluster, world, "粤0105")
    await http_services.cache.bump("粤0105")
    for login in ("lawyer-chen", "clerk-0104"):
        body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_=login)
        code = body["errors"][0]["extensions"]["code"]
        assert code == ("NOT_FOUND" if login == "lawyer-chen" else "FORBIDDEN"), body
    for bad in (global_id("Case", "x"), global_id("ServedDocument", "粤0105|no-such-document"), "%%%"):
        body = await gateway.query(SIGN, {"id": bad}, as_="party-wang")
        assert body["errors"][0]["extensions"]["code"] in ("NOT_FOUND", "BAD_USER_INPUT"), body
    assert doc.document_id not in cluster.state("粤0105").signatures
    async with http_services.store.session(read_only=True) as session:
        rows = await session.execute(select(SignatureRecord).where(SignatureRecord.document_id == doc.document_id))
        assert rows.first() is None


async def test_the_court_down_at_delivery_keeps_it_pending_then_delivers_once(
    gateway: GraphQLClient,
    http_services: Services,
    sims: SimulatorCluster,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    court = "粤0105"
    outbox = outbox_of(http_services)
    monkeypatch.setattr(outbox, "policy", RetryPolicy(base_s=0.05, cap_s=0.2))
    doc = serve_fresh(sims, world, court)
    await http_services.cache.bump(court)

    idle = outbox.run_once
    monkeypatch.setattr(outbox, "run_once", lambda: asyncio.sleep(0, 0))  # hold deliveries while the court goes down
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_="party-wang")
    signature_id = body["data"]["signDocument"]["id"]
    await sims.set_outage(court, True)
    monkeypatch.setattr(outbox, "run_once", idle)
    http_services.workers.wake(outbox.name)

    async def failing() -> SignatureRecord | None:
        row = await signature_row(http_services.store, signature_id)
        return row if row.attempts >= 3 else None

    row = await wait_for(failing)
    assert row is not None and row.status == SignatureStatus.PENDING
    assert row.last_error and row.last_error.startswith("COURT_")
    assert doc.document_id not in sims.state(court).signatures

    await sims.set_outage(court, False)
    record = await delivered(http_services, signature_id)
    assert record.attempts >= 3  # two or more failed while it was down
    assert sims.state(court).signatures[doc.document_id].deliveries == 1


TO_SIGN = "{ documentsToSign(first: 100) { edges { node { id } } } }"


async def test_a_document_signed_through_the_gateway_leaves_documents_to_sign_before_the_court_records_it(
    gateway: GraphQLClient,
    http_services: Services,
    sims: SimulatorCluster,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    court = "粤0105"
    outbox = outbox_of(http_services)
    doc = serve_fresh(sims, world, court)
    await http_services.cache.bump(court)

    async def listed() -> set[str]:
        body = await gateway.query(TO_SIGN, as_="party-wang")
        return {e["node"]["id"] for e in body["data"]["documentsToSign"]["edges"]}

    assert doc_id(doc) in await listed()
    held = outbox.run_once
    monkeypatch.setattr(outbox, "run_once", lambda: asyncio.sleep(0, 0))  # the court has not recorded it yet
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_="party-wang")
    assert body["data"]["signDocument"]["status"] == "PENDING"
    assert doc.document_id not in sims.state(court).signatures
    assert doc_id(doc) not in await listed(), "a signed document is not offered for signing again"
    monkeypatch.setattr(outbox, "run_once", held)
    http_services.workers.wake(outbox.name)
    await delivered(http_services, body["data"]["signDocument"]["id"])


# -- the service layer and the outbox, on SQLite and PostgreSQL ------------------------------------------


@contextlib.asynccontextmanager
async def service_stack(kind: str, tmp_path: Path, settings: Settings) -> AsyncIterator[Services]:
    """The gateway's services on a fresh database of ``kind``, without the HTTP app or its workers."""
    async with contextlib.AsyncExitStack() as stack:
        if kind == "sqlite":
            url = sqlite_url(tmp_path)
        else:
            url = await stack.enter_async_context(postgres_schema(str(POSTGRES_URL)))
        await upgrade_async(url)
        services = build_services(settings.model_copy(update={"database_url": url}))
        try:
            yield services
        finally:
            await services.registry.aclose()
            await services.cache.close()
            await services.store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def stack(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, sims: SimulatorCluster
) -> AsyncIterator[Services]:
    async with service_stack(request.param, tmp_path, settings) as services:
        yield services


def outbox(services: Services) -> SignatureOutbox:
    return SignatureOutbox(
        services.store, services.registry, services.cache, services.settings, RetryPolicy(base_s=0, cap_s=0, lease_s=60)
    )


async def sign(services: Services, world: World, doc: ServedDocument, login: str = "party-wang") -> SignatureRecord:
    service = services.signing
    viewer = viewer_of(world, login)
    group, _ = await service.find_for_person(viewer, doc.source_code, doc.document_id)
    return await service.sign(viewer, group, method="ONLINE_CONFIRMATION")


async def test_a_signature_is_stored_and_audited_then_delivered_once(
    stack: Services, sims: SimulatorCluster, world: World
) -> None:
    doc = serve_fresh(sims, world, "粤01")
    record = await sign(stack, world, doc)
    assert record.status == SignatureStatus.PENDING and record.idempotency_key.endswith(record.id)
    assert await count(stack.store, AuditRecord, AuditRecord.subject_id == record.id) == 1

    worker = outbox(stack)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0, "nothing left to do"
    row = await signature_row(stack.store, record.id)
    assert row.status == SignatureStatus.DELIVERED and row.attempts == 1
    assert row.court_signed_at == sims.state("粤01").signatures[doc.document_id].receipt.signed_at
    assert sims.state("粤01").signatures[doc.document_id].signature.idempotency_key == record.idempotency_key
    assert sims.state("粤01").signatures[doc.document_id].deliveries == 1
    key = person_key(person(world, "party-wang"))
    assert await count(stack.store, InAppNotification, InAppNotification.recipient_key == key) == 1
    async with stack.store.session(read_only=True) as session:
        assert (await verify(session)).ok


async def test_signing_concurrently_keeps_one_signature(stack: Services, sims: SimulatorCluster, world: World) -> None:
    doc = serve_fresh(sims, world, "粤0105")
    records = await asyncio.gather(*(sign(stack, world, doc) for _ in range(5)))
    assert len({r.id for r in records}) == 1
    assert await count(stack.store, SignatureRecord, SignatureRecord.document_id == doc.document_id) == 1


async def test_the_court_down_at_signing_delays_delivery_and_loses_nothing(
    stack: Services, sims: SimulatorCluster, world: World
) -> None:
    court = "粤0115"
    doc = serve_fresh(sims, world, court)
    service = stack.signing
    viewer = viewer_of(world, "party-wang")
    await service.find_for_person(viewer, court, doc.document_id)  # the person saw it in their list
    await sims.set_outage(court, True)
    group, _ = await service.find_for_person(viewer, court, doc.document_id)
    record = await service.sign(viewer, group, method="E_SEAL")

    worker = outbox(stack)
    for _ in range(3):
        assert await worker.run_once() == 1
    row = await signature_row(stack.store, record.id)
    assert (row.status, row.attempts) == (SignatureStatus.PENDING, 3)
    assert row.last_error and row.last_error.startswith("COURT_UNAVAILABLE")

    await sims.set_outage(court, False)
    assert await worker.run_once() == 1
    row = await signature_row(stack.store, record.id)
    assert (row.status, row.attempts) == (SignatureStatus.DELIVERED, 4)
    recorded = sims.state(court).signatures[doc.document_id]
    assert recorded.deliveries == 1 and recorded.signature.method == "E_SEAL"


async def test_a_signature_delivered_twice_by_a_retry_is_recorded_once(
    stack: Services, sims: SimulatorCluster, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The court records the signature but its answer is lost: the outbox retries with the same key."""
    court = "粤01"
    doc = serve_fresh(sims, world, court)
    record = await sign(stack, world, doc)
    adapter = stack.registry[court]
    deliver = adapter.sign_document
    calls: list[Signature] = []

    async def answer_lost_once(signature: Signature) -> Any:
        calls.append(signature)
        receipt = await deliver(signature)
        if len(calls) == 1:
            raise CourtTimeout(court, "the answer was lost on the way back")
        return receipt

    monkeypatch.setattr(adapter, "sign_document", answer_lost_once)
    worker = outbox(stack)
    await worker.run_once()
    assert (await signature_row(stack.store, record.id)).status == SignatureStatus.PENDING
    assert sims.state(court).signatures[doc.document_id].deliveries == 1, "the court did record it"
    await worker.run_once()
    row = await signature_row(stack.store, record.id)
    assert row.status == SignatureStatus.DELIVERED
    assert [c.idempotency_key for c in calls] == [record.idempotency_key] * 2
    recorded = sims.state(court).signatures[doc.document_id]
    assert recorded.deliveries == 2 and list(sims.state(court).signatures).count(doc.document_id) == 1
    assert row.court_signed_at == recorded.receipt.signed_at
    key = person_key(person(world, "party-wang"))
    notices = InAppNotification.recipient_key == key, InAppNotification.dedupe_key == f"signature:{record.id}"
    assert await count(stack.store, InAppNotification, *notices) == 1


async def test_a_claimed_signature_is_left_alone_until_its_lease_ends(
    stack: Services, sims: SimulatorCluster, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that dies mid-delivery leaves the signature claimed; another takes it after the lease."""
    doc = serve_fresh(sims, world, "粤0115")
    record = await sign(stack, world, doc)
    first = outbox(stack)
    assert len(await first.claim()) == 1  # and then the process dies
    second = outbox(stack)
    assert await second.run_once() == 0
    async with stack.store.session() as session:
        row = await session.get(SignatureRecord, record.id)
        assert row is not None
        row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)  # the lease ran out
    assert await second.run_once() == 1
    row = await signature_row(stack.store, record.id)
    assert (row.status, row.attempts) == (SignatureStatus.DELIVERED, 2)
    assert sims.state("粤0115").signatures[doc.document_id].deliveries == 1


async def test_a_signature_the_court_refuses_is_rejected_and_audited(
    stack: Services, sims: SimulatorCluster, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = serve_fresh(sims, world, "粤0105")
    record = await sign(stack, world, doc)

    async def refuse(signature: Signature) -> Any:
        raise CourtRejected("粤0105", "文书已撤回")

    monkeypatch.setattr(stack.registry["粤0105"], "sign_document", refuse)
    assert await outbox(stack).run_once() == 1
    row = await signature_row(stack.store, record.id)
    assert row.status == SignatureStatus.REJECTED and row.last_error == "COURT_REJECTED: 文书已撤回"
    assert await outbox(stack).run_once() == 0, "a rejection is final"
    assert await count(stack.store, AuditRecord, AuditRecord.action == "signature.rejected") == 1
    assert group_key(ServedDocumentGroup((doc,))) == record.group_key
