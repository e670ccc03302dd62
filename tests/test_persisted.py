"""Trusted documents and APQ, end to end: a gateway on loopback whose first-party callers may run only the
demo client's manifest (``clients/manifests/demo.json``), over HTTP GET and POST and on the WebSocket,
while a law firm's OAuth client still sends documents of its own; APQ in memory and in Redis.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.app import create_app
from gateway.cache import Cache
from gateway.cache_format import VALUE_FORMAT
from gateway.config import ROOT, Settings
from gateway.errors import RequestRefused
from gateway.persisted import (
    APQStore,
    DocumentPolicy,
    ManifestError,
    PersistedDocuments,
    TrustedDocuments,
    build_manifest,
    document_hash,
    manifest_text,
)
from gateway.schema.limits import MAX_TOKENS
from gateway.security import document_policy
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import mint, serve_app
from tests.notifications.test_subscriptions import PROTOCOL, Connection, _served, _wang, other_process  # noqa: F401

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
OPERATIONS = ROOT / "clients" / "operations" / "demo"
MANIFEST = ROOT / "clients" / "manifests" / "demo.json"
DEMO = json.loads(MANIFEST.read_text(encoding="utf-8"))
BY_NAME = {text.split("(")[0].split("{")[0].split()[1]: key for key, text in DEMO.items()}
OWN = "{ viewer { name } }"  # a document of the caller's own, in no manifest


class Edge:
    """Raw HTTP against one gateway: bodies as the clients send them."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def post(self, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as s, s.post(self.url, json=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def get(self, params: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
        async with aiohttp.ClientSession() as s, s.get(self.url, params=query, headers=headers) as r:
            return r.status, await r.json(content_type=None)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.fixture(scope="module")
async def trusted(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[Edge]:
    """First-party callers: only trusted documents (production's default); OAuth clients: any."""
    app = create_app(settings.model_copy(update={"first_party_documents": "trusted"}), graphiql=False)
    server, task, url = await serve_app(app)
    yield Edge(f"{url}/graphql")
    server.should_exit = True
    await task


@pytest.fixture
def wang(world: World, settings: Settings) -> str:
    return mint(world, settings, "party-wang")


@pytest.fixture
def law_firm(world: World, settings: Settings) -> str:
    """lawyer-chen's token issued to a law firm's case-management software (OAuth client)."""
    return mint(
        world, settings, "lawyer-chen", client_id=f"firm-{secrets.token_hex(4)}", scope="cases:read notifications:read"
    )


@pytest.fixture
def serve_wang(other_process: Any, world: World, settings: Settings) -> Any:  # noqa: F811
    """Serves party-wang a document the way another gateway process would: a notice for her follows."""

    async def serve(title: str) -> None:
        await _served(other_process, settings, _wang(world, settings), title)

    return serve


def persisted(key: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": key}}


# -- the manifest ------------------------------------------------------------------------------------


def test_the_demo_manifest_is_built_from_its_operations_and_every_key_is_its_documents_hash() -> None:
    assert MANIFEST.read_text(encoding="utf-8") == manifest_text(build_manifest(OPERATIONS)), (
        "run: court-gateway trusted-documents clients/operations/demo clients/manifests/demo.json"
    )
    assert all(document_hash(text) == key for key, text in DEMO.items())
    assert {"MyCases", "Case", "DocumentsToSign", "SignDocument", "NotificationAdded"} <= set(BY_NAME)


def test_a_manifest_whose_key_is_not_its_documents_hash_stops_the_gateway(tmp_path: Path) -> None:
    (tmp_path / "forged.json").write_text(json.dumps({document_hash("{ courts { code } }"): OWN}))
    with pytest.raises(ManifestError, match="does not hash to its key"):
        TrustedDocuments.load(tmp_path, 65536)
    (tmp_path / "forged.json").write_text(json.dumps(["not", "a", "map"]))
    with pytest.raises(ManifestError):
        TrustedDocuments.load(tmp_path, 65536)


def test_production_trusts_only_manifests_for_first_party_callers_by_default(settings: Settings) -> None:
    assert document_policy(settings.model_copy(update={"mode": "production"})) == DocumentPolicy("trusted", "any")
    assert document_policy(settings) == DocumentPolicy("any", "any")


# -- first-party callers: trusted documents only -------------------------------------------------------


async def test_a_first_party_caller_runs_its_trusted_documents_by_id_over_post_and_get(
    trusted: Edge, wang: str
) -> None:
    for send in (trusted.post, trusted.get):
        status, body = await send({"documentId": f"sha256:{BY_NAME['Viewer']}"}, wang)
        assert status == 200 and body["data"]["viewer"]["name"] == "王芳", body
        status, body = await send({"extensions": persisted(BY_NAME["Viewer"])}, wang)
        assert status == 200 and body["data"]["viewer"]["name"] == "王芳", body


async def test_a_first_party_callers_own_document_is_refused_unrun(trusted: Edge, wang: str) -> None:
    status, body = await trusted.post({"query": OWN}, wang)
    assert (status, codes(body)) == (403, ["DOCUMENT_NOT_TRUSTED"]) and "data" not in body
    status, body = await trusted.post({"query": OWN}, None)  # an anonymous caller counts as first-party
    assert (status, codes(body)) == (403, ["DOCUMENT_NOT_TRUSTED"])
    # nor may it register one through APQ
    status, body = await trusted.post({"query": OWN, "extensions": persisted(document_hash(OWN))}, wang)
    assert (status, codes(body)) == (403, ["DOCUMENT_NOT_TRUSTED"])
    # the text of a trusted document, sent as text, is that document
    status, body = await trusted.post({"query": DEMO[BY_NAME["Viewer"]]}, wang)
    assert status == 200 and body["data"]["viewer"]["name"] == "王芳"


async def test_an_unknown_or_malformed_document_id_is_typed(trusted: Edge, wang: str) -> None:
    status, body = await trusted.post({"documentId": "sha256:" + "0" * 64}, wang)
    assert codes(body) == ["DOCUMENT_NOT_TRUSTED"], "a first-party caller gets nothing outside its manifest"
    for bad in ("md5:abc", "sha256:XYZ", 42, "sha256:" + "a" * 65):
        status, body = await trusted.post({"documentId": bad}, wang)
        assert (status, codes(body)) == (400, ["BAD_REQUEST"]), bad
    status, body = await trusted.post({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}}, wang)
    assert (status, codes(body)) == (400, ["PERSISTED_QUERY_NOT_SUPPORTED"])


# -- a law firm's client: documents of its own, and APQ ------------------------------------------------


async def test_a_law_firms_client_sends_its_own_documents_and_registers_them_by_apq(
    trusted: Edge, law_firm: str
) -> None:
    document = f"query Mine{secrets.token_hex(4)} {{ myCases(first: 1) {{ totalCount }} }}"
    key = document_hash(document)
    status, body = await trusted.post({"query": OWN}, law_firm)
    assert status == 200 and body["data"]["viewer"]["name"], body

    # Apollo's APQ: the hash alone first, unknown; then the text with it; then the hash alone works
    status, body = await trusted.post({"extensions": persisted(key)}, law_firm)
    assert status == 200 and codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert body["errors"][0]["message"] == "PersistedQueryNotFound", "Apollo clients match the message"
    status, body = await trusted.post({"query": document, "extensions": persisted("f" * 64)}, law_firm)
    assert (status, codes(body)) == (400, ["PERSISTED_QUERY_HASH_MISMATCH"]), "a hash is checked before storing"
    status, body = await trusted.post({"extensions": persisted("f" * 64)}, law_firm)
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], "nothing was stored under the wrong hash"
    status, body = await trusted.post({"query": document, "extensions": persisted(key)}, law_firm)
    assert status == 200 and "errors" not in body, body
    for send in (trusted.post, trusted.get):
        status, body = await send({"extensions": persisted(key)}, law_firm)
        assert status == 200 and isinstance(body["data"]["myCases"]["totalCount"], int), body


async def test_a_registered_mutation_never_runs_over_get(trusted: Edge, law_firm: str) -> None:
    mutation = f"mutation Read{secrets.token_hex(4)} {{ markNotificationsRead(all: true) }}"
    key = document_hash(mutation)
    status, body = await trusted.post({"query": mutation, "extensions": persisted(key)}, law_firm)
    assert status == 200 and "errors" not in body, body
    status, body = await trusted.get({"extensions": persisted(key)}, law_firm)
    assert status in (400, 405) and codes(body) in (["BAD_REQUEST"], ["METHOD_NOT_ALLOWED"]), body
    assert "data" not in body or body["data"] is None
    status, body = await trusted.get({"documentId": f"sha256:{BY_NAME['SignDocument']}"}, law_firm)
    assert status in (400, 405) and "data" not in body, "nor does a trusted one"


# -- the WebSocket -----------------------------------------------------------------------------------


async def test_subscriptions_by_document_id_and_refusals_on_the_websocket(
    trusted: Edge, wang: str, serve_wang: Any
) -> None:
    url = trusted.url.replace("http://", "ws://")
    async with aiohttp.ClientSession() as session:
        ws = Connection(await session.ws_connect(url, protocols=(PROTOCOL,)))
        assert (await ws.init({"Authorization": f"Bearer {wang}"}))["type"] == "connection_ack"
        # a document of her own: refused, typed, and the connection stays open
        await ws.ws.send_json({"id": "own", "type": "subscribe", "payload": {"query": OWN}})
        refused = await ws.receive()
        assert refused["type"] == "error" and refused["id"] == "own"
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["DOCUMENT_NOT_TRUSTED"]
        # a trusted query by its id over the same socket
        await ws.ws.send_json({"id": "q", "type": "subscribe", "payload": {"documentId": BY_NAME["Viewer"]}})
        answer = await ws.receive()
        assert answer["type"] == "next" and answer["payload"]["data"]["viewer"]["name"] == "王芳", answer
        assert (await ws.receive())["type"] == "complete"
        # the trusted subscription by APQ hash: a notice served to her arrives
        payload = {"extensions": persisted(BY_NAME["NotificationAdded"])}
        await ws.ws.send_json({"id": "live", "type": "subscribe", "payload": payload})
        await serve_wang("民事裁定书")
        notice = await ws.next_notification()
        assert notice["kind"] == "DOCUMENT_SERVED" and "《民事裁定书》" in notice["body"]


# -- limits and stores -------------------------------------------------------------------------------


async def test_a_document_over_the_ceiling_is_refused_before_it_is_hashed_or_stored() -> None:
    store = APQStore(None, 60.0)
    documents = PersistedDocuments(TrustedDocuments(), store, DocumentPolicy(), 8192, MAX_TOKENS)
    huge = "{ viewer { name } }" + " " * 9000
    with pytest.raises(RequestRefused) as refused:
        await documents.resolve(None, huge, None, persisted(document_hash(huge)))
    assert refused.value.code == "DOCUMENT_TOO_LARGE"
    assert await store.get(document_hash(huge)) is None
    # within the bytes but past the token limit: it runs (and fails, typed) but is never kept
    many = "{ " + "v " * 2100 + "}"
    assert await documents.resolve(None, many, None, persisted(document_hash(many))) == many
    assert await store.get(document_hash(many)) is None


async def test_the_memory_apq_store_is_bounded() -> None:
    store = APQStore(Cache("memory://"), 60.0, entries=3)
    for n in range(5):
        await store.put(document_hash(str(n)), str(n))
    assert [await store.get(document_hash(str(n))) for n in range(5)] == [None, None, "2", "3", "4"]
    by_size = APQStore(Cache("memory://"), 60.0, total_chars=25)
    for n in range(3):
        await by_size.put(document_hash(str(n) * 10), str(n) * 10)
    assert [await by_size.get(document_hash(str(n) * 10)) for n in range(3)] == [None, "1" * 10, "2" * 10]


@needs_redis
async def test_apq_documents_in_redis_are_shared_by_replicas_and_carry_the_value_format() -> None:
    namespace = f"test-apq-{os.getpid()}"
    one, two = (Cache(str(REDIS_URL), namespace=namespace) for _ in range(2))
    try:
        await APQStore(one, 60.0).put(document_hash(OWN), OWN)
        assert await APQStore(two, 60.0).get(document_hash(OWN)) == OWN, "registered on one replica, read on another"
        keys = [k async for k in one._counters.client.scan_iter(f"{namespace}:*apq:*")]  # type: ignore[attr-defined]
        assert [k.decode() for k in keys] == [f"{namespace}:{VALUE_FORMAT}:apq:{document_hash(OWN)}"]
    finally:
        await one.clear()
        await one.close()
        await two.close()


async def test_the_older_graphql_ws_protocol_is_held_to_the_same_policy(
    trusted: Edge, wang: str, serve_wang: Any
) -> None:
    url = trusted.url.replace("http://", "ws://")
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("graphql-ws",)) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {wang}"}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "own", "type": "start", "payload": {"query": OWN}})
        refused = await ws.receive_json(timeout=10)
        assert (refused["type"], refused["id"], refused["payload"]["extensions"]["code"]) == (
            "error",
            "own",
            "DOCUMENT_NOT_TRUSTED",
        )
        payload = {"documentId": f"sha256:{BY_NAME['NotificationAdded']}"}
        await ws.send_json({"id": "live", "type": "start", "payload": payload})
        await serve_wang("执行通知书")
        answer = await ws.receive_json(timeout=10)
        assert answer["type"] == "data", answer
        assert "《执行通知书》" in answer["payload"]["data"]["notificationAdded"]["body"]


def test_the_gateway_warns_when_first_party_callers_are_held_to_manifests_it_does_not_have(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    update = {"first_party_documents": "trusted", "trusted_documents_dir": tmp_path}
    create_app(settings.model_copy(update=update), graphiql=False)
    assert any("holds no manifest" in r.getMessage() for r in caplog.records)
