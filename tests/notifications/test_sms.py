"""SMS delivery: the worker (claims, rate limit, retries, concurrent workers), the demo provider's log and
``court-gateway sms tail``, and the HTTP provider against a small loopback server.

Worker tests run on SQLite and on PostgreSQL (when ``GATEWAY_TEST_POSTGRES_URL`` names a server), on a
clock the test moves, so backoff and rate windows take no real time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from gateway.app import create_app
from gateway.cli import main
from gateway.config import CourtConfig, Settings
from gateway.notifications.service import NotificationKind, Recipient, notify
from gateway.notifications.sms import DeliveryPolicy, SmsWorker, outgoing
from gateway.notifications.sms_providers import (
    HttpSmsProvider,
    LogFileSmsProvider,
    OutgoingSms,
    SmsDeliveryError,
    SmsProvider,
    format_entry,
    last_entries,
    log_path,
    mask_phone,
    provider_from_settings,
)
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, migrated database of each kind."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
        yield url
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with Store(database_url) as store:
        yield store


@pytest.fixture(scope="module")
def court() -> CourtConfig:
    return Settings().court("粤0104")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeProvider(SmsProvider):
    """Records what it sends; fails the first ``failures`` sends, or every send when ``failures`` < 0."""

    failures: int = 0
    delay_s: float = 0.0
    sent: list[OutgoingSms] = field(default_factory=list)
    attempts: int = 0
    name = "fake"

    async def send(self, message: OutgoingSms) -> str:
        self.attempts += 1
        await asyncio.sleep(self.delay_s)
        if self.failures < 0 or self.attempts <= self.failures:
            raise SmsDeliveryError(f"provider down (attempt {self.attempts})")
        self.sent.append(message)
        return f"fake-{message.id}"


async def queue(store: Store, court: CourtConfig, phones: list[str], key: str = "event:1") -> None:
    """One message per phone (a phone may be listed several times: it then gets several events' texts)."""
    async with store.session() as session:
        for n, phone in enumerate(phones):
            await notify(
                session,
                kind=NotificationKind.FILING_HANDLED,
                court=court,
                case_number="（2023）粤0104民初123号",
                recipients=[Recipient("收件人", phone, None)],
                params={},
                dedupe_key=f"{key}:{n}",
                now=T0,
            )


async def rows(store: Store) -> list[SmsMessage]:
    async with store.session(read_only=True) as session:
        return list((await session.scalars(select(SmsMessage).order_by(SmsMessage.id))).all())


def worker(store: Store, provider: SmsProvider, clock: Clock, **policy: float) -> SmsWorker:
    return SmsWorker(store, provider, DeliveryPolicy(**policy), clock=clock, rng=random.Random(7).random)  # type: ignore[arg-type]


# -- the worker -----------------------------------------------------------------------------------------


async def test_due_messages_are_sent_once(store: Store, court: CourtConfig) -> None:
    await queue(store, court, ["13800000001", "13900000002"])
    provider, clock = FakeProvider(), Clock()
    sms = worker(store, provider, clock)
    assert await sms.run_once() == 2
    assert await sms.run_once() == 0
    assert sorted(m.phone for m in provider.sent) == ["13800000001", "13900000002"]
    assert provider.sent[0].text.startswith("【越秀法院】您好！")
    assert [(r.status, r.attempts, r.sent_at, r.provider_message_id) for r in await rows(store)] == [
        ("SENT", 1, T0, f"fake-{provider.sent[0].id}"),
        ("SENT", 1, T0, f"fake-{provider.sent[1].id}"),
    ]


async def test_over_the_rate_limit_texts_wait_their_turn(store: Store, court: CourtConfig) -> None:
    await queue(store, court, ["13800000001"] * 5 + ["13900000002"])
    provider, clock = FakeProvider(), Clock()
    sms = worker(store, provider, clock, rate_limit=2, rate_window_s=60)

    assert await sms.run_once() == 3  # two for the busy phone, one for the other
    waiting = [r for r in await rows(store) if r.status == "PENDING"]
    assert len(waiting) == 3 and all(r.attempts == 0 for r in waiting)  # deferred, not attempted
    assert {r.next_attempt_at for r in waiting} == {T0 + timedelta(seconds=60)}

    clock.advance(30)
    assert await sms.run_once() == 0  # still inside the window
    clock.advance(30)
    assert await sms.run_once() == 2
    clock.advance(60)
    assert await sms.run_once() == 1
    assert all(r.status == "SENT" for r in await rows(store))
    busy = sorted(m.id for m in provider.sent if m.phone == "13800000001")
    assert len(busy) == 5 == len(set(busy))  # none dropped, none twice


async def test_failures_back_off_then_fail_for_good(store: Store, court: CourtConfig) -> None:
    await queue(store, court, ["13800000001"])
    provider, clock = FakeProvider(failures=-1), Clock()
    sms = worker(store, provider, clock, max_attempts=3, base_s=10, cap_s=1000)

    waits = []
    for attempt in (1, 2):
        assert await sms.run_once() == 1
        (row,) = await rows(store)
        assert (row.status, row.attempts, row.last_error) == ("PENDING", attempt, f"provider down (attempt {attempt})")
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        assert await sms.run_once() == 0  # not due before its backoff ends
        clock.now = row.next_attempt_at
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20  # doubling, half of it jitter

    assert await sms.run_once() == 1
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.last_error) == ("FAILED", 3, "provider down (attempt 3)")
    clock.advance(10_000)
    assert await sms.run_once() == 0 and provider.attempts == 3


async def test_a_transient_failure_is_retried_to_success(store: Store, court: CourtConfig) -> None:
    await queue(store, court, ["13800000001"])
    provider, clock = FakeProvider(failures=1), Clock()
    sms = worker(store, provider, clock)
    await sms.run_once()
    clock.advance(3600)
    await sms.run_once()
    ((status, attempts, error),) = [(r.status, r.attempts, r.last_error) for r in await rows(store)]
    assert (status, attempts, error) == ("SENT", 2, "provider down (attempt 1)")


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy, rng = DeliveryPolicy(base_s=10, cap_s=300), random.Random(1)
    for attempt in range(1, 12):
        ceiling = min(300, 10 * 2 ** (attempt - 1))
        delays = {policy.delay(attempt, rng=rng.random) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


async def test_a_dead_workers_claim_runs_out_and_its_late_result_is_ignored(store: Store, court: CourtConfig) -> None:
    await queue(store, court, ["13800000001"])
    clock = Clock()
    dead = worker(store, FakeProvider(), clock, lease_s=120)
    (claim,) = await dead.claim()  # claimed, then the process "dies" before sending
    (row,) = await rows(store)
    assert (row.status, row.attempts) == ("SENDING", 1)

    alive_provider = FakeProvider()
    alive = worker(store, alive_provider, clock, lease_s=120)
    assert await alive.run_once() == 0  # the claim still holds
    clock.advance(121)
    assert await alive.run_once() == 1
    assert not await dead.record_failure(claim, SmsDeliveryError("too late"))  # it arrives after all: fenced off
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.last_error) == ("SENT", 2, None)
    assert [m.idempotency_key for m in alive_provider.sent] == [outgoing(claim.row).idempotency_key]


async def test_two_workers_at_once_send_every_row_exactly_once(database_url: str, court: CourtConfig) -> None:
    """Two gateway processes (two engines) racing over one outbox; one phone is over its rate limit."""
    busy = "13800000000"
    async with Store(database_url) as store_a, Store(database_url) as store_b:
        await queue(store_a, court, [f"139{n:08d}" for n in range(60)] + [busy] * 8)
        clock = Clock()
        providers = [FakeProvider(delay_s=0.005), FakeProvider(delay_s=0.005)]
        workers = [
            worker(s, p, clock, batch=5, rate_limit=3) for s, p in zip((store_a, store_b), providers, strict=True)
        ]

        async def drain(sms: SmsWorker) -> None:
            idle = 0
            while idle < 3:  # a round may find everything locked by the other worker: look again
                idle = 0 if await sms.run_once() else idle + 1
                await asyncio.sleep(0)

        await asyncio.wait_for(asyncio.gather(*(drain(w) for w in workers)), timeout=60)
        sent = [m.id for p in providers for m in p.sent]
        assert len(sent) == len(set(sent)) == 63  # 60 + the busy phone's limit of 3
        assert all(p.sent for p in providers)  # both really worked
        assert sum(m.phone == busy for p in providers for m in p.sent) == 3
        statuses = [(r.phone == busy, r.status) for r in await rows(store_a)]
        assert statuses.count((True, "PENDING")) == 5 and statuses.count((False, "SENT")) == 60


def test_the_gateway_runs_the_sms_worker(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=sqlite_url(tmp_path), sms_log_path=tmp_path / "sms.log"))
    assert [w.name for w in app.state.services.workers.workers].count("sms") == 1


def test_the_provider_comes_from_settings(tmp_path: Path) -> None:
    demo = provider_from_settings(Settings(sms_log_path=tmp_path / "x.log"))
    assert isinstance(demo, LogFileSmsProvider) and demo.path == tmp_path / "x.log"
    http = provider_from_settings(Settings(sms_provider="http", sms_http_url="http://127.0.0.1:9/sms"))
    assert isinstance(http, HttpSmsProvider)
    with pytest.raises(ValueError, match="GATEWAY_SMS_HTTP_URL"):
        provider_from_settings(Settings(sms_provider="http"))


def test_the_demo_log_lives_beside_a_sqlite_database_unless_configured(tmp_path: Path) -> None:
    assert log_path(Settings(database_url="sqlite+aiosqlite:///.data/gateway.db")) == Path(".data/sms.log")
    assert log_path(Settings(database_url=sqlite_url(tmp_path))) == tmp_path / "sms.log"  # tests keep theirs
    assert log_path(Settings(database_url="postgresql+asyncpg://gw@db/gw")) == Path(".data/sms.log")
    assert log_path(Settings(database_url=sqlite_url(tmp_path), sms_log_path=Path("/x/sms.log"))) == Path("/x/sms.log")


# -- the demo provider and `court-gateway sms tail` -----------------------------------------------------

TEXT = "【越秀法院】您好！您提交的（2023）粤0104民初123号的材料法官已处理，请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看处理结果。"


def _message(n: int, phone: str = "13800000001", text: str = TEXT) -> OutgoingSms:
    return OutgoingSms(id=n, phone=phone, text=text, kind="FILING_HANDLED", court_code="粤0104")


async def test_the_demo_provider_writes_one_readable_json_line_per_message(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sms.log"
    provider = LogFileSmsProvider(log)
    async with provider:
        ids = await asyncio.gather(*(provider.send(_message(n)) for n in range(20)))
    assert ids == [f"sms-{n}" for n in range(20)]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20 and TEXT in lines[0]  # UTF-8 as is, not \u escapes
    entry = json.loads(lines[0])
    assert entry.keys() == {"id", "at", "phone", "kind", "court", "text"}
    assert datetime.fromisoformat(entry["at"]).tzinfo is not None


def test_phones_are_masked() -> None:
    assert mask_phone("13800000001") == "138****0001"
    assert mask_phone("+8613800000001") == "+86****0001"
    assert mask_phone("12345") == "****"


def test_tail_reads_the_last_messages_of_a_long_log(tmp_path: Path) -> None:
    log = tmp_path / "sms.log"
    at = "2026-11-22T13:05:09.000+00:00"
    with open(log, "w", encoding="utf-8") as f:
        for n in range(5000):
            f.write(json.dumps({"id": f"sms-{n}", "at": at, "phone": "13800000001", "text": f"第{n}条"}) + "\n")
        f.write("not json\n")
    entries = last_entries(log, 3)
    assert [e["text"] for e in entries] == ["第4997条", "第4998条", "第4999条"]
    assert format_entry(entries[-1]) == "2026-11-22 21:05:09  138****0001  第4999条"  # court time, +08:00
    assert last_entries(tmp_path / "missing.log", 3) == []


def test_cli_sms_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "sms.log"
    monkeypatch.setenv("GATEWAY_SMS_LOG_PATH", str(log))
    main(["sms", "tail"])
    assert "no messages yet" in capsys.readouterr().err

    async def send_three() -> None:
        provider = LogFileSmsProvider(log)
        for n, phone in enumerate(["13800000001", "13900000002", "13700000003"]):
            await provider.send(_message(n, phone, f"{TEXT}#{n}"))

    asyncio.run(send_three())
    main(["sms", "tail", "-n", "2"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("  139****0002  " + f"{TEXT}#1") and out[1].endswith("  137****0003  " + f"{TEXT}#2")
    assert "13900000002" not in "\n".join(out)


async def test_cli_sms_tail_follow_prints_new_messages(tmp_path: Path) -> None:
    log = tmp_path / "sms.log"
    provider = LogFileSmsProvider(log)
    await provider.send(_message(1, text="旧消息"))
    env = {**os.environ, "GATEWAY_SMS_LOG_PATH": str(log)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "sms", "tail", "-n", "1", "--follow",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        assert first.decode().rstrip().endswith("138****0001  旧消息")
        await provider.send(_message(2, "13900000002", "新消息"))
        second = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        assert second.decode().rstrip().endswith("139****0002  新消息")
    finally:
        process.kill()
        await process.wait()


# -- the HTTP provider ------------------------------------------------------------------------------------


@dataclass
class SmsGateway:
    """A loopback stand-in for an SMS gateway: records requests, answers with ``status`` (or hangs)."""

    url: str = ""
    status: int = 200
    hang_s: float = 0.0
    requests: list[tuple[dict[str, str], dict[str, object]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.status >= 300:
            return web.json_response({"error": "网关繁忙"}, status=self.status, dumps=_utf8_json)
        return web.json_response({"messageId": f"gw-{len(self.requests)}"})


def _utf8_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
async def sms_gateway() -> AsyncIterator[SmsGateway]:
    recorder = SmsGateway()
    app = web.Application()
    app.router.add_post("/sms", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorder.url = f"http://127.0.0.1:{port}/sms"
    yield recorder
    await runner.cleanup()


async def test_http_provider_posts_json_with_idempotency_key_and_token(sms_gateway: SmsGateway) -> None:
    provider = HttpSmsProvider(sms_gateway.url, token="s3cret", timeout_s=5)
    async with provider:
        assert await provider.send(_message(7)) == "gw-1"
    assert await provider.send(_message(8)) == "gw-2"  # outside a batch too
    headers, body = sms_gateway.requests[0]
    assert headers["Idempotency-Key"] == "sms-7" and headers["Authorization"] == "Bearer s3cret"
    assert body == {
        "messageId": "sms-7",
        "phone": "13800000001",
        "text": TEXT,
        "kind": "FILING_HANDLED",
        "court": "粤0104",
    }


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda gw: setattr(gw, "status", 503), "HTTP 503: "),
        (lambda gw: setattr(gw, "status", 400), "HTTP 400: "),
        (lambda gw: setattr(gw, "hang_s", 1.0), "TimeoutError"),
        (lambda gw: setattr(gw, "url", "http://127.0.0.1:9/sms"), "ClientConnectorError"),
    ],
    ids=["unavailable", "refused", "timeout", "unreachable"],
)
async def test_http_provider_failures_are_retryable(
    sms_gateway: SmsGateway, setup: Callable[[SmsGateway], None], error: str
) -> None:
    setup(sms_gateway)
    async with HttpSmsProvider(sms_gateway.url, timeout_s=0.3) as provider:
        with pytest.raises(SmsDeliveryError, match=f"^{error}"):
            await provider.send(_message(1))


async def test_the_worker_retries_through_the_http_provider(
    store: Store, court: CourtConfig, sms_gateway: SmsGateway
) -> None:
    await queue(store, court, ["13800000001"])
    clock = Clock()
    sms = SmsWorker(store, HttpSmsProvider(sms_gateway.url, timeout_s=5), clock=clock)
    sms_gateway.status = 500
    await sms.run_once()
    (row,) = await rows(store)
    assert (row.status, row.attempts) == ("PENDING", 1) and row.last_error is not None
    assert row.last_error.startswith("HTTP 500: ") and "网关繁忙" in row.last_error
    sms_gateway.status = 200
    clock.now = row.next_attempt_at
    assert await sms.run_once() == 1
    (row,) = await rows(store)
    assert (row.status, row.provider_message_id) == ("SENT", "gw-2")
    keys = [headers["Idempotency-Key"] for headers, _ in sms_gateway.requests]
    assert keys == [f"sms-{row.id}"] * 2  # the same key on the retry: the gateway can drop a duplicate
