"""The v2-rest family: its simulator keeps its OpenAPI promise, and its adapter tames it exactly.

Runs against the session cluster (粤01 and the national platform). Writes and staff actions use cases
and documents of people who are not demo persons, so other modules' ground truth stays untouched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
    NotSupported,
)
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Attachment,
    Case,
    CaseScope,
    CaseStatus,
    Filing,
    FilingKind,
    PartyKind,
    PersonRef,
    ServedDocument,
    Signature,
)
from gateway.adapters.v2rest import V2RestAdapter
from gateway.config import Settings
from simulators.casefiles import case_documents
from simulators.cluster import SimulatorCluster
from simulators.generator import World

COURT = "粤01"
PLATFORM = "全国送达平台"


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


def _demo_numbers(world: World) -> set[str]:
    return {p.number for p in world.demo.values()}


def quiet_cases(world: World, cluster: SimulatorCluster, status: CaseStatus | None = None) -> Iterator[Case]:
    """Cases of 粤01 that no demo person is in and that nothing has changed yet."""
    state = cluster.court_state(COURT)
    demo = _demo_numbers(world)
    for case in state.all_cases():
        people = {p.id_number for p in case.parties} | {a.licence_number for a in case.agents}
        if case.case_id not in state.overrides and not people & demo and status in (None, case.status):
            yield case


def unsigned_document(world: World, cluster: SimulatorCluster) -> ServedDocument:
    state = cluster.court_state(COURT)
    for case in quiet_cases(world, cluster):
        for doc in case_documents(world.seed, case, world.now):
            if doc.signed_at is None and doc.document_id not in state.signatures:
                return doc
    raise AssertionError("no unsigned document left")


def a_filing(case: Case, key: str | None = None, content: bytes = b"%PDF-1.4 defence") -> Filing:
    return Filing(
        idempotency_key=key or str(uuid.uuid4()),
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind.DEFENCE_STATEMENT,
        title="答辩状",
        filer_name=case.parties[-1].name,
        filer_id_number=case.parties[-1].id_number,
        attachments=(Attachment("答辩状.pdf", "application/pdf", content), Attachment("证据.txt", "text/plain", b"")),
    )


@pytest.fixture
async def court(settings: Settings, sims: SimulatorCluster) -> AsyncIterator[V2RestAdapter]:
    adapter = V2RestAdapter(settings.court(COURT))
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def platform(settings: Settings, sims: SimulatorCluster) -> AsyncIterator[V2RestAdapter]:
    adapter = V2RestAdapter(settings.court(PLATFORM))
    yield adapter
    await adapter.aclose()


# -- the OpenAPI document is the truth about the simulator ---------------------------------------


class OpenApiRecorder:
    """Calls the simulators directly and checks every answer against the OpenAPI document."""

    def __init__(self, http: aiohttp.ClientSession, settings: Settings, doc: dict[str, Any]) -> None:
        self.http = http
        self.settings = settings
        self.doc = doc
        self.tokens: dict[str, str] = {}
        self.seen: set[tuple[str, str, int]] = set()
        self.samples: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def documented(self) -> set[tuple[str, str, int]]:
        return {
            (path, method.upper(), int(status))
            for path, item in self.doc["paths"].items()
            for method, operation in item.items()
            for status in operation["responses"]
            if status != "default"
        }

    async def token(self, code: str) -> str:
        if code not in self.tokens:
            credentials = self.settings.court(code).credentials
            _, body = await self.call(
                code, "POST", "/oauth/token", data={"grant_type": "client_credentials", **credentials}
            )
            self.tokens[code] = body["access_token"]
        return self.tokens[code]

    async def call(
        self,
        code: str,
        method: str,
        template: str,
        *,
        path: Mapping[str, str] | None = None,
        auth: bool = True,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        protected = self.doc["paths"][template][method.lower()].get("security") != []
        headers = dict(kwargs.pop("headers", {}))
        if protected and auth:
            headers["Authorization"] = f"Bearer {await self.token(code)}"
        self.samples.setdefault((template, method), (code, {"path": path, **kwargs}))
        url = self.settings.court(code).base_url + template.format(
            **{k: quote(v, safe="") for k, v in (path or {}).items()}
        )
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            body = await response.read()
            self.check(template, method, response, body)
        if response.status < 300 and "json" in kwargs:
            self.validate(
                f"{method} {template} request",
                self.doc["paths"][template][method.lower()]["requestBody"]["content"]["application/json"]["schema"],
                kwargs["json"],
            )
        self.seen.add((template, method, response.status))
        parsed = body if response.content_type == "application/pdf" else (body and json.loads(body))
        return response.status, parsed

    def check(self, template: str, method: str, response: aiohttp.ClientResponse, body: bytes) -> None:
        where = f"{method} {template} → {response.status}"
        responses = self.doc["paths"][template][method.lower()]["responses"]
        assert str(response.status) in responses, f"{where} is not documented"
        documented = responses[str(response.status)]
        assert response.content_type in documented["content"], f"{where}: {response.content_type} not documented"
        for header in documented.get("headers", {}):
            assert header in response.headers, f"{where}: documented header {header} missing"
        if response.content_type == "application/pdf":
            assert body.startswith(b"%PDF")
            return
        self.validate(where, documented["content"][response.content_type]["schema"], json.loads(body))

    def validate(self, where: str, schema: dict[str, Any], instance: object) -> None:
        """JSON Schema 2020-12 (OpenAPI 3.1); the schema's ``#/components/…`` refs resolve in the document."""
        schema = {**schema, "components": self.doc["components"]}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
        assert not errors, f"{where} does not match its schema: {errors[:5]}"

    async def replay(self, template: str, method: str, *, auth: bool = True) -> int:
        code, kwargs = self.samples[(template, method)]
        status, _ = await self.call(code, method, template, auth=auth, **kwargs)
        return status


async def test_openapi_document_lists_exactly_the_routes_served(settings: Settings, cluster: SimulatorCluster) -> None:
    async with aiohttp.ClientSession() as http:
        for code in (COURT, PLATFORM):
            async with http.get(settings.court(code).base_url + "/openapi.json") as response:
                assert response.status == 200
                doc = await response.json()
            validate_openapi(doc)  # a valid OpenAPI 3.1 document
            assert doc["servers"] == [{"url": settings.court(code).base_url}]
            served = {
                (r.method, r.resource.canonical)
                for r in cluster.backend(code).runner.app.router.routes()
                if r.resource is not None
            }
            documented = {(m.upper(), path) for path, item in doc["paths"].items() for m in item}
            assert served == documented


async def test_real_answers_validate_against_the_openapi_document(
    settings: Settings, world: World, sims: SimulatorCluster
) -> None:
    """Every documented status of every operation is produced for real, and each answer fits its schema."""
    chen = person(world, "lawyer-chen")
    case = next(quiet_cases(world, sims))
    doc_to_sign = unsigned_document(world, sims)
    async with aiohttp.ClientSession() as http:
        async with http.get(settings.court(COURT).base_url + "/openapi.json") as response:
            rec = OpenApiRecorder(http, settings, await response.json())
        call = rec.call
        # the token endpoint
        await call(COURT, "GET", "/openapi.json")
        await rec.token(COURT)
        assert (await call(COURT, "POST", "/oauth/token", data={"grant_type": "password"}))[0] == 400
        wrong = {"grant_type": "client_credentials", "client_id": "court-gateway", "client_secret": "wrong"}
        status, problem = await call(COURT, "POST", "/oauth/token", data=wrong)
        assert (status, problem["error"]) == (401, "invalid_client")
        # cases
        status, page = await call(COURT, "GET", "/v2/cases", params={"agentLicenceNumber": chen.number, "limit": "2"})
        assert status == 200 and len(page["cases"]) == 2 and page["nextCursor"]
        params = {"agentLicenceNumber": chen.number, "limit": "2", "cursor": page["nextCursor"]}
        assert (await call(COURT, "GET", "/v2/cases", params=params))[0] == 200
        params = {"partyIdNumber": case.parties[0].id_number, "cursor": page["nextCursor"]}
        assert (await call(COURT, "GET", "/v2/cases", params=params))[0] == 400, "a cursor fits its own query only"
        assert (await call(COURT, "GET", "/v2/cases", params={"caseNumber": case.case_number}))[0] == 200
        assert (await call(COURT, "GET", "/v2/cases", params={"partyIdNumber": "x", "limit": "101"}))[0] == 400
        # the staff side: a panel member's, a division's and the whole court's cases
        member = {"panelMemberStaffId": case.panel[0].staff_id, "limit": "1"}
        status, page = await call(COURT, "GET", "/v2/cases", params=member)
        assert status == 200 and page["cases"] and page["totalSize"] >= 1
        assert (await call(COURT, "GET", "/v2/cases", params={"division": case.division}))[0] == 200
        status, page = await call(COURT, "GET", "/v2/cases", params={"scope": "court", "limit": "100"})
        assert status == 200 and len(page["cases"]) == 100 and page["nextCursor"]
        assert (await call(COURT, "GET", "/v2/cases", params={"scope": "everything"}))[0] == 400
        ids = ",".join(c.case_id for c in world.courts[COURT].cases.values())
        assert (await call(COURT, "GET", "/v2/cases:batchGet", params={"ids": ids}))[0] == 400
        status, batch = await call(COURT, "GET", "/v2/cases:batchGet", params={"ids": f"{case.case_id},nope"})
        assert (status, [c["id"] for c in batch["cases"]]) == (200, [case.case_id])
        # the platform has no cases
        assert (await call(PLATFORM, "GET", "/v2/cases", params={"partyIdNumber": "x"}))[0] == 404
        assert (await call(PLATFORM, "GET", "/v2/cases", params={"scope": "court"}))[0] == 404
        assert (await call(PLATFORM, "GET", "/v2/cases:batchGet", params={"ids": case.case_id}))[0] == 404
        # case files
        status, volumes = await call(COURT, "GET", "/v2/cases/{caseId}/volumes", path={"caseId": case.case_id})
        material = volumes["volumes"][0]["materials"][0]["id"]
        assert (await call(COURT, "GET", "/v2/cases/{caseId}/volumes", path={"caseId": "nope"}))[0] == 404
        content = "/v2/cases/{caseId}/materials/{materialId}/content"
        status, pdf = await call(COURT, "GET", content, path={"caseId": case.case_id, "materialId": material})
        assert status == 200 and pdf.startswith(b"%PDF")
        assert (await call(COURT, "GET", content, path={"caseId": case.case_id, "materialId": "nope"}))[0] == 404
        # filings
        key = {"Idempotency-Key": str(uuid.uuid4())}
        filing = {
            "caseNumber": case.case_number,
            "category": "STATEMENT_OF_DEFENCE",
            "title": "答辩状",
            "submitter": {"name": "张三", "idNumber": case.parties[-1].id_number},
            "attachments": [{"fileName": "a.pdf", "mediaType": "application/pdf", "contentBase64": "JVBERg=="}],
        }
        filings, at = "/v2/cases/{caseId}/filings", {"caseId": case.case_id}
        assert (await call(COURT, "POST", filings, path=at, json=filing, headers=key))[0] == 201
        assert (await call(COURT, "POST", filings, path=at, json=filing, headers=key))[0] == 200
        assert (await call(COURT, "POST", filings, path=at, json={**filing, "title": "代理词"}, headers=key))[0] == 409
        assert (await call(COURT, "POST", filings, path=at, json=filing))[0] == 400
        assert (await call(COURT, "POST", filings, path={"caseId": "nope"}, json=filing, headers=key))[0] == 404
        # the staff roster, paged like everything else; the platform has none
        status, roster = await call(COURT, "GET", "/v2/staff", params={"limit": "30"})
        assert status == 200 and len(roster["staff"]) == 30 and roster["nextCursor"]
        assert roster["totalSize"] == len(sims.court_state(COURT).staff())
        params = {"limit": "30", "cursor": roster["nextCursor"]}
        assert (await call(COURT, "GET", "/v2/staff", params=params))[0] == 200
        assert (await call(COURT, "GET", "/v2/staff", params={"limit": "101"}))[0] == 400
        assert (await call(COURT, "GET", "/v2/staff", params={"cursor": page["nextCursor"]}))[0] == 400
        assert (await call(PLATFORM, "GET", "/v2/staff"))[0] == 404
        # entering a lawyer on the case
        agents, at = "/v2/cases/{caseId}/agents", {"caseId": case.case_id}
        lawyer = {
            "name": "黎律师",
            "licenceNumber": "14401201310300123",
            "lawFirm": "广东测试律师事务所",
            "clientIdNumber": case.parties[-1].id_number,
            "phone": None,
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        status, receipt = await call(COURT, "POST", agents, path=at, json=lawyer, headers=key)
        assert (status, receipt["caseId"], receipt["licenceNumber"]) == (201, case.case_id, lawyer["licenceNumber"])
        assert (await call(COURT, "POST", agents, path=at, json=lawyer, headers=key)) == (200, receipt)
        other = {**lawyer, "licenceNumber": "14401201310300124"}
        assert (await call(COURT, "POST", agents, path=at, json=other, headers=key))[0] == 409
        assert (await call(COURT, "POST", agents, path=at, json=lawyer))[0] == 400
        again = {"Idempotency-Key": str(uuid.uuid4())}
        assert (await call(COURT, "POST", agents, path=at, json=lawyer, headers=again))[0] == 422, "already entered"
        stranger = {**lawyer, "clientIdNumber": "440104199001011234"}
        assert (await call(COURT, "POST", agents, path=at, json=stranger, headers=again))[0] == 422
        assert (await call(COURT, "POST", agents, path={"caseId": "nope"}, json=lawyer, headers=again))[0] == 404
        # documents and signing
        who = {"addresseeIdNumber": doc_to_sign.addressee.number}
        assert (await call(COURT, "GET", "/v2/documents", params=who))[0] == 200
        assert (
            await call(
                PLATFORM, "GET", "/v2/documents", params={"addresseeIdNumber": person(world, "party-wang").number}
            )
        )[0] == 200
        assert (await call(COURT, "GET", "/v2/documents", params={}))[0] == 400
        sign, at = "/v2/documents/{documentId}:sign", {"documentId": doc_to_sign.document_id}
        body = {
            "signer": {"name": doc_to_sign.addressee_name, "idNumber": doc_to_sign.addressee.number},
            "assuranceLevel": "SUBSTANTIAL",
            "signedAt": "2026-11-01T18:30:00+08:00",
            "method": "CONFIRMATION",
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        assert (await call(COURT, "POST", sign, path=at, json=body, headers=key))[0] == 200
        assert (await call(COURT, "POST", sign, path=at, json=body))[0] == 400
        stranger = {**body, "signer": {"name": "某人", "idNumber": "440104199001011234"}}
        assert (await call(COURT, "POST", sign, path=at, json=stranger, headers=key))[0] == 403
        assert (await call(COURT, "POST", sign, path={"documentId": "nope"}, json=body, headers=key))[0] == 404
        # the change feed
        assert (await call(COURT, "GET", "/v2/changes", params={"since": "0"}))[0] == 200
        sims.desk(COURT).schedule_hearing(case.case_id, datetime(2026, 12, 1, 9, 30, tzinfo=CHINA_TZ))
        status, feed = await call(COURT, "GET", "/v2/changes")
        assert feed["events"][-1]["type"] == "hearing.scheduled"
        assert (await call(COURT, "GET", "/v2/changes", params={"since": "yesterday"}))[0] == 400
        # every protected operation without a token; every operation unavailable, then rate limited
        for template, method in list(rec.samples):
            if rec.doc["paths"][template][method.lower()].get("security") != []:
                assert await rec.replay(template, method, auth=False) == 401
        for fault, expected in (({"error_rate": 1.0}, 503), ({"rate_limit_per_s": 0.01}, 429)):
            for code in (COURT, PLATFORM):
                await sims.set_faults(code, **fault)
            for template, method in list(rec.samples):
                assert await rec.replay(template, method) == expected
            for code in (COURT, PLATFORM):
                await sims.clear_faults(code)
        # and errors outside the documented routes are problems too
        async with http.get(settings.court(COURT).base_url + "/v1/cases") as response:
            assert (response.status, response.content_type) == (404, "application/problem+json")
    assert rec.seen == rec.documented(), "documented but never produced: " + repr(rec.documented() - rec.seen)


# -- the adapter maps the wire exactly onto the canonical model --------------------------------------


async def test_lawyer_cases_round_trip_across_pages(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    who = person(world, "lawyer-chen")
    expected = sims.court_state(COURT).cases_of(who)
    assert len(expected) > 4, "the seed puts lawyer-chen into enough 粤01 cases to page"
    cases: list[Case] = []
    position: str | None = None
    pages = 0
    while True:
        page = await court.list_cases(who, position=position, limit=2)
        pages += 1
        assert page.total == len(expected)
        cases += page.cases
        if page.next_position is None:
            break
        position = page.next_position
    assert cases == expected
    assert pages == -(-len(expected) // 2)
    moments = [c.last_activity_at for c in cases] + [h.starts_at for c in cases for h in c.hearings]
    assert moments and all(m is not None and m.tzinfo is CHINA_TZ for m in moments)
    assert all(isinstance(c.parties, tuple) and isinstance(c.panel, tuple) for c in cases)


async def test_page_size_is_capped_at_100(court: V2RestAdapter, world: World) -> None:
    page = await court.list_cases(person(world, "lawyer-chen"), limit=500)
    assert page.next_position is None and len(page.cases) == page.total


async def test_a_cursor_from_another_query_is_rejected(court: V2RestAdapter, world: World) -> None:
    first = await court.list_cases(person(world, "lawyer-chen"), limit=1)
    assert first.next_position is not None
    with pytest.raises(CourtRejected):
        await court.list_cases(person(world, "lawyer-li"), position=first.next_position, limit=1)


async def test_staff_views_page_by_100_under_exactly_one_filter(
    court: V2RestAdapter, settings: Settings, sims: SimulatorCluster
) -> None:
    """The staff filters of GET /v2/cases: one at a time, pages of at most 100, a cursor only for its own filter."""
    every = sims.court_state(COURT).cases_in_scope(CaseScope())
    assert len(every) > 100, "the whole court is more than one page"
    async with aiohttp.ClientSession() as http:
        async with http.get(settings.court(COURT).base_url + "/openapi.json") as response:
            rec = OpenApiRecorder(http, settings, await response.json())

        async def cases(**params: str) -> tuple[int, Any]:
            return await rec.call(COURT, "GET", "/v2/cases", params=params)

        status, first = await cases(scope="court", limit="100")
        assert (status, first["totalSize"], len(first["cases"])) == (200, len(every), 100)
        status, second = await cases(scope="court", limit="100", cursor=first["nextCursor"])
        ids = [c["id"] for c in first["cases"] + second["cases"]]
        assert status == 200 and ids == [c.case_id for c in every[: min(200, len(every))]]
        assert (await cases(scope="court", limit="101"))[0] == 400
        division, member = every[0].division, every[0].panel[0].staff_id
        assert (await cases(division=division, cursor=first["nextCursor"]))[0] == 400, "a cursor fits its own filter"
        assert (await cases(division=division, panelMemberStaffId=member))[0] == 400, "one filter at a time"
    page = await court.list_court_cases(CaseScope(), limit=500)
    assert len(page.cases) == 100 and page.next_position is not None, "the adapter caps the page at 100"


async def test_batch_get_over_50_ids_is_split_and_keeps_the_order_asked(
    court: V2RestAdapter, sims: SimulatorCluster
) -> None:
    state = sims.court_state(COURT)
    wanted = [c.case_id for c in state.all_cases()][:120][::-1]
    asked = [*wanted[:60], "unknown-1", *wanted[60:], "unknown-2"]
    before = state.counters["get_cases"]
    got = await court.get_cases(asked)
    assert got == [state.case(i) for i in wanted]
    assert state.counters["get_cases"] - before == 3, "122 ids are three batches of at most 50"
    assert await court.get_cases([]) == []


async def test_find_case_by_number(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    case = sims.court_state(COURT).cases_of(person(world, "lawyer-li"))[0]
    assert await court.find_case(case.case_number) == case
    assert await court.find_case(case.case_number.replace("号", "999999号")) is None


async def test_case_file_and_material_bytes(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    state = sims.court_state(COURT)
    case = state.cases_of(person(world, "lawyer-chen"))[0]
    volumes = await court.list_volumes(case.case_id)
    assert tuple(volumes) == state.volumes(case.case_id)
    material = volumes[0].materials[-1]
    content = await court.read_material(case.case_id, material.material_id)
    assert content.content == state.material(case.case_id, material.material_id)
    assert (content.material_id, content.content_type) == (material.material_id, "application/pdf")
    with pytest.raises(NotFoundAtCourt):
        await court.read_material(case.case_id, "no-such-material")
    with pytest.raises(NotFoundAtCourt):
        await court.list_volumes("no-such-case")


# -- tokens and faults --------------------------------------------------------------------------------


async def test_expired_token_is_renewed_transparently(
    court: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    who = person(world, "lawyer-chen")
    counters = sims.state(COURT).counters
    before = await court.list_cases(who)
    logins = counters["auth"]
    await sims.set_faults(COURT, expire_sessions=True)
    assert await court.list_cases(who) == before
    assert counters["auth"] == logins + 1, "one new token, fetched after the court refused the old one"
    assert await court.list_cases(who) == before
    assert counters["auth"] == logins + 1, "and kept afterwards"


async def test_wrong_client_secret_is_an_auth_failure(settings: Settings, world: World, sims: SimulatorCluster) -> None:
    config = settings.court(COURT)
    wrong = config.model_copy(update={"credentials": {**config.credentials, "client_secret": "wrong"}})
    async with V2RestAdapter(wrong) as adapter:
        with pytest.raises(CourtAuthFailed) as error:
            await adapter.list_cases(person(world, "lawyer-chen"))
    assert error.value.court_code == COURT


async def test_rate_limiting_carries_retry_after(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    await court.list_cases(person(world, "lawyer-chen"))
    await sims.set_faults(COURT, rate_limit_per_s=0.5)
    with pytest.raises(CourtRateLimited) as error:
        await court.list_cases(person(world, "lawyer-chen"))
    assert error.value.retry_after == 2.0
    assert error.value.court_code == COURT


async def test_server_errors_and_outages_are_unavailable(
    court: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    await sims.set_faults(COURT, error_rate=1.0)
    with pytest.raises(CourtUnavailable):
        await court.list_cases(person(world, "lawyer-chen"))
    await sims.set_outage(COURT, True)
    async with V2RestAdapter(court.court) as fresh:  # a new process: nothing pooled from before the outage
        with pytest.raises(CourtUnavailable):
            await fresh.get_cases(["anything"])


# -- writes -------------------------------------------------------------------------------------------


async def test_filing_is_idempotent_by_key(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    case = next(quiet_cases(world, sims))
    filing = a_filing(case)
    receipt = await court.submit_filing(filing)
    assert await court.submit_filing(filing) == receipt
    assert receipt.received_at.tzinfo is CHINA_TZ
    records = sims.court_state(COURT).filings
    assert records[filing.idempotency_key].deliveries == 2
    assert records[filing.idempotency_key].filing == filing, "every field and attachment byte arrived"
    assert [r.receipt.receipt_number for r in records.values()].count(receipt.receipt_number) == 1
    with pytest.raises(CourtRejected):
        await court.submit_filing(a_filing(case, filing.idempotency_key, content=b"%PDF-1.4 something else"))
    with pytest.raises(NotFoundAtCourt):
        await court.submit_filing(replace(a_filing(case), case_id="no-such-case"))


async def test_signing_twice_records_once(court: V2RestAdapter, world: World, sims: SimulatorCluster) -> None:
    doc = unsigned_document(world, sims)
    signed_at = datetime(2026, 11, 2, 9, 15, 30, 123456, tzinfo=CHINA_TZ)
    signature = Signature(
        str(uuid.uuid4()), doc.document_id, doc.addressee_name, doc.addressee.number, "FACE", signed_at, "E_SEAL"
    )
    first = await court.sign_document(signature)
    assert first == await court.sign_document(signature)
    assert (first.document_id, first.signed_at) == (doc.document_id, signed_at.replace(microsecond=0))
    record = sims.state(COURT).signatures[doc.document_id]
    assert record.deliveries == 2 and record.signature == signature
    listed = {d.document_id: d for d in await court.list_documents(doc.addressee)}
    assert listed[doc.document_id].signed_at == signed_at.replace(microsecond=0)
    with pytest.raises(CourtRejected):
        await court.sign_document(
            Signature(
                str(uuid.uuid4()),
                unsigned_document(world, sims).document_id,
                "某人",
                "440104199001011234",
                "REAL_NAME",
                signed_at,
            )
        )
    with pytest.raises(NotFoundAtCourt):
        await court.sign_document(Signature(str(uuid.uuid4()), "no-such-doc", "某人", "x", "REAL_NAME", signed_at))


async def test_the_roster_is_read_whole_in_one_page_or_walked_by_cursor(
    court: V2RestAdapter, sims: SimulatorCluster
) -> None:
    state = sims.court_state(COURT)
    staff = list(state.staff())
    assert 30 < len(staff) <= 100
    before = state.counters["list_staff"]
    assert await court.list_staff() == staff
    assert state.counters["list_staff"] - before == 1, "one call for a roster that fits a page of 100"
    court.max_page_size = 30  # a court with a bigger roster than one page: the cursor is followed to the end
    assert await court.list_staff() == staff
    assert state.counters["list_staff"] - before == 1 + -(-len(staff) // 30)


async def test_entering_a_lawyer_is_idempotent_by_key(
    court: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    state = sims.court_state(COURT)
    case = next(quiet_cases(world, sims, CaseStatus.IN_TRIAL))
    client = case.parties[0]
    lawyer = Agent("岑律师", "14401201410300321", "广东测试律师事务所", client.id_number, "13700137000")
    who = PersonRef.lawyer(lawyer.licence_number)
    assert court.supports_agent_writes is True
    assert (await court.list_cases(who)).cases == ()
    key = str(uuid.uuid4())
    first = await court.add_agent(case.case_id, lawyer, idempotency_key=key)
    assert await court.add_agent(case.case_id, lawyer, idempotency_key=key) == first
    assert (first.case_id, first.licence_number) == (case.case_id, lawyer.licence_number)
    assert first.recorded_at.tzinfo is CHINA_TZ
    record = state.agent_writes[key]
    assert (record.deliveries, record.agent, record.receipt) == (2, lawyer, first), "every field arrived, once"
    [listed] = (await court.list_cases(who)).cases
    assert listed == state.case(case.case_id) and listed.agents == (*case.agents, lawyer)
    assert [e.licence_number for e in state.events if e.case_id == case.case_id] == [lawyer.licence_number]
    with pytest.raises(CourtRejected):  # the same key for another lawyer
        await court.add_agent(case.case_id, replace(lawyer, licence_number="14401201410300322"), idempotency_key=key)
    with pytest.raises(CourtRejected):  # a client who is not a party
        await court.add_agent(
            case.case_id, replace(lawyer, client_id_number="440104199001011234"), idempotency_key=str(uuid.uuid4())
        )
    with pytest.raises(NotFoundAtCourt):
        await court.add_agent("no-such-case", lawyer, idempotency_key=str(uuid.uuid4()))
    assert state.case(case.case_id).agents == (*case.agents, lawyer), "nothing more was entered"


# -- the national platform ----------------------------------------------------------------------------


async def test_platform_serves_documents_but_no_cases(
    platform: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    wang = person(world, "party-wang")
    state = sims.state(PLATFORM)
    documents = await platform.list_documents(wang)
    assert documents and documents == state.documents_of(wang)
    assert {d.source_code for d in documents} == {PLATFORM}
    calls = state.counters["http"]
    case = world.courts[COURT].cases_of(person(world, "lawyer-chen"))[0]
    with pytest.raises(NotSupported):
        await platform.list_cases(wang)
    with pytest.raises(NotSupported):
        await platform.list_court_cases(CaseScope(staff_id=case.panel[0].staff_id))
    with pytest.raises(NotSupported):
        await platform.get_cases([case.case_id])
    with pytest.raises(NotSupported):
        await platform.find_case(case.case_number)
    with pytest.raises(NotSupported):
        await platform.list_volumes(case.case_id)
    with pytest.raises(NotSupported):
        await platform.read_material(case.case_id, f"{case.case_id}-Z01")
    with pytest.raises(NotSupported):
        await platform.submit_filing(a_filing(case))
    # no staff, no cases to enter a lawyer on: the platform is no court, whatever it speaks
    assert platform.supports_agent_writes is False
    assert await platform.list_staff() == []
    with pytest.raises(CourtUnsupported):
        lawyer = Agent("林律师", "14401202110300098", "广东测试律师事务所", case.parties[0].id_number)
        await platform.add_agent(case.case_id, lawyer, idempotency_key=str(uuid.uuid4()))
    assert state.counters["http"] == calls, "refused without a network call"


# -- the change feed ----------------------------------------------------------------------------------


async def test_change_feed_reports_every_kind_of_staff_action(
    court: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    page = await court.changes(None)
    while page.events:
        page = await court.changes(page.cursor)
    cursor = page.cursor
    state = sims.court_state(COURT)
    desk = sims.desk(COURT)
    in_trial = next(quiet_cases(world, sims, CaseStatus.IN_TRIAL))
    hearing = desk.schedule_hearing(in_trial.case_id, datetime(2026, 12, 8, 14, 30, tzinfo=CHINA_TZ), "第3法庭")
    receipt = await court.submit_filing(a_filing(in_trial))
    desk.handle_filing(receipt.receipt_number, "已阅，材料已入卷")
    addressee = next(p for p in in_trial.parties if p.kind == PartyKind.PERSON)
    served = desk.serve_document(in_trial.case_id, PersonRef.party(addressee.id_number), "补正通知书")
    desk.add_agent(in_trial.case_id, Agent("林律师", "14401202110300099", "广东测试律师事务所", addressee.id_number))
    desk.close_case(in_trial.case_id)
    desk.archive_case(in_trial.case_id)

    page = await court.changes(cursor)
    assert page.events == tuple(state.events_after(cursor))
    assert [e.kind.value for e in page.events] == [
        "HEARING_SCHEDULED",
        "FILING_HANDLED",
        "DOCUMENT_SERVED",
        "AGENT_ADDED",
        "CASE_CLOSED",
        "CASE_ARCHIVED",
    ]
    handled = page.events[1]
    assert (handled.filing_receipt_number, handled.result) == (receipt.receipt_number, "已阅，材料已入卷")
    assert page.events[0].hearing_id == hearing.hearing_id and page.events[2].document_id == served.document_id
    assert all(e.occurred_at.tzinfo is CHINA_TZ for e in page.events)
    assert (await court.changes(page.cursor)).events == ()
    assert (await court.find_case(in_trial.case_number)) == state.case(in_trial.case_id), "the case shows it all"


# -- lifetime -----------------------------------------------------------------------------------------


async def test_one_lazy_session_closed_by_aclose(settings: Settings, world: World, sims: SimulatorCluster) -> None:
    adapter = V2RestAdapter(settings.court(COURT))
    assert adapter._session is None, "nothing is opened before the first call"
    await adapter.list_cases(person(world, "lawyer-chen"))
    session = adapter._session
    await adapter.find_case("（2020）粤01民终1号")
    assert adapter._session is session and session is not None
    assert isinstance(session.connector, aiohttp.TCPConnector)
    assert session.connector.limit_per_host == settings.court(COURT).concurrency
    await adapter.aclose()
    assert session.closed


async def test_each_call_is_counted_under_its_shared_operation_name(
    court: V2RestAdapter, world: World, sims: SimulatorCluster
) -> None:
    """Benchmarks read these counters: one backend operation per adapter call, named alike in every family."""
    state = sims.court_state(COURT)
    chen = person(world, "lawyer-chen")
    case = state.cases_of(chen)[0]
    doc = unsigned_document(world, sims)
    before = state.counters.copy()
    await court.list_cases(chen)
    await court.list_court_cases(CaseScope(division=case.division))
    await court.get_cases([case.case_id])
    await court.find_case(case.case_number)
    await court.list_documents(chen)
    volumes = await court.list_volumes(case.case_id)
    await court.read_material(case.case_id, volumes[0].materials[0].material_id)
    await court.changes(None)
    quiet = next(quiet_cases(world, sims))
    await court.submit_filing(a_filing(quiet))
    await court.list_staff()
    lawyer = Agent("符律师", "14401201410300654", "广东测试律师事务所", quiet.parties[0].id_number)
    await court.add_agent(quiet.case_id, lawyer, idempotency_key=str(uuid.uuid4()))
    await court.sign_document(
        Signature(
            str(uuid.uuid4()),
            doc.document_id,
            doc.addressee_name,
            doc.addressee.number,
            "REAL_NAME",
            datetime(2026, 11, 2, 10, 0, tzinfo=CHINA_TZ),
        )
    )
    delta = state.counters - before
    delta.pop("http")
    assert delta == {
        "auth": 1,
        "list_cases": 1,
        "list_court_cases": 1,
        "get_cases": 1,
        "find_case": 1,
        "list_documents": 1,
        "list_volumes": 1,
        "read_material": 1,
        "changes": 1,
        "submit_filing": 1,
        "sign_document": 1,
        "list_staff": 1,
        "add_agent": 1,
    }
