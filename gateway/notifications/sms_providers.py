"""Where texts go: a small provider interface, the demo's log file, and an HTTP SMS gateway.

A provider sends one message and says so, or raises :class:`SmsDeliveryError`; the worker owns
retries, backoff and rate limits, so a provider stays a thin adapter. ``async with provider:`` spans
one batch of sends (the HTTP provider opens its connection pool there), so nothing outlives the batch.

The demo provider appends one JSON line per message to a log file a person can read, as is or with
``court-gateway sms tail``; the helpers at the end of this module read that log back.
"""

from __future__ import annotations

import abc
import asyncio
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from sqlalchemy.engine import make_url

from gateway.config import Settings
from gateway.store.sqlite import sqlite_file

DEFAULT_LOG = Path(".data/sms.log")
#: court time, for people reading the log (China has one zone and no daylight saving)
CHINA_TIME = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class OutgoingSms:
    """One message as a provider sees it."""

    id: int
    phone: str
    text: str
    kind: str
    court_code: str | None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries, so a provider that got a message but whose answer was lost drops the resend."""
        return f"sms-{self.id}"


class SmsDeliveryError(Exception):
    """The provider did not take the message; the worker retries it later (until its last attempt)."""


class SmsProvider(abc.ABC):
    """Sends texts. Subclasses implement :meth:`send`; the context manager spans one batch."""

    name = "base"

    @abc.abstractmethod
    async def send(self, message: OutgoingSms) -> str:
        """Hand over ``message``; return the provider's message id. Raise SmsDeliveryError if not taken."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class LogFileSmsProvider(SmsProvider):
    """The demo: each message becomes one JSON line in ``path``, where a person can read what was sent."""

    name = "log"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, message: OutgoingSms) -> str:
        entry = {
            "id": message.idempotency_key,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "phone": message.phone,
            "kind": message.kind,
            "court": message.court_code,
            "text": message.text,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        async with self._lock:  # one writer per process; O_APPEND keeps whole lines across processes
            await asyncio.to_thread(self._append, line.encode())
        return message.idempotency_key

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


class HttpSmsProvider(SmsProvider):
    """A production SMS gateway reached over HTTP.

    Each message is POSTed as JSON ``{"messageId", "phone", "text", "kind", "court"}`` with an
    ``Idempotency-Key`` header (the same on every retry) and, when configured, a bearer token. Any 2xx
    means taken (the answer's JSON ``messageId``, if any, is kept); any other status, a connection
    error or no answer within ``timeout_s`` is a retryable :class:`SmsDeliveryError`.
    """

    name = "http"

    def __init__(self, url: str, *, token: str = "", timeout_s: float = 10.0) -> None:
        if not url:
            raise ValueError("the HTTP SMS provider needs a URL (GATEWAY_SMS_HTTP_URL)")
        self.url = url
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: OutgoingSms) -> str:
        if self._session is None:  # used outside a batch: one connection for this message
            async with self:
                return await self.send(message)
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {
            "messageId": message.idempotency_key,
            "phone": message.phone,
            "text": message.text,
            "kind": message.kind,
            "court": message.court_code,
        }
        try:
            async with self._session.post(self.url, json=body, headers=headers) as response:
                answer = await response.text()
                if not 200 <= response.status < 300:
                    raise SmsDeliveryError(f"HTTP {response.status}: {answer[:200]}")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SmsDeliveryError(f"{type(e).__name__}: {e}".rstrip(": ")) from e
        return _message_id(answer) or message.idempotency_key


def _message_id(answer: str) -> str | None:
    try:
        value = json.loads(answer).get("messageId")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def provider_from_settings(settings: Settings) -> SmsProvider:
    if settings.sms_provider == "http":
        return HttpSmsProvider(
            settings.sms_http_url, token=settings.sms_http_token, timeout_s=settings.sms_http_timeout_s
        )
    return LogFileSmsProvider(log_path(settings))


def log_path(settings: Settings) -> Path:
    """The demo log: as configured, else beside the SQLite database file, so that a gateway and the
    ``sms tail`` of the same configuration meet, and a throwaway database (tests) has a throwaway log."""
    if settings.sms_log_path is not None:
        return settings.sms_log_path
    database = sqlite_file(make_url(settings.database_url)) if settings.database_url.startswith("sqlite") else None
    return database.with_name("sms.log") if database is not None else DEFAULT_LOG


# -- reading the demo log back (court-gateway sms tail) --------------------------------------------


def mask_phone(phone: str) -> str:
    """138****0001: enough to tell messages apart, not enough to read a number off a screen."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"


def format_entry(entry: dict[str, Any]) -> str:
    """One message as a line: its time in court time, the masked phone, the text."""
    try:
        at = datetime.fromisoformat(str(entry["at"])).astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")
    except (KeyError, ValueError):
        at = "????-??-?? ??:??:??"
    return f"{at}  {mask_phone(str(entry.get('phone', '')))}  {entry.get('text', '')}"


def log_size(path: Path) -> int:
    """Where the log ends now: read the last messages up to here, then follow from here, and none is missed."""
    return path.stat().st_size if path.exists() else 0


def last_entries(path: Path, n: int, *, end: int | None = None) -> list[dict[str, Any]]:
    """The last ``n`` messages of the log (up to byte ``end``), reading only as much as that takes."""
    if n <= 0 or not path.exists():
        return []
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END) if end is None else end
        block = 65536
        while True:
            start = max(0, end - block)
            f.seek(start)
            lines = f.read(end - start).split(b"\n")
            entries = [e for e in map(_parse, lines[1:] if start else lines) if e is not None]  # [0]: partial
            if len(entries) >= n or start == 0:
                return entries[-n:]
            block *= 2


def follow_entries(path: Path, *, start: int | None = None, poll_s: float = 0.5) -> Iterator[dict[str, Any]]:
    """Messages appended to the log after byte ``start`` (default: its end now), forever; a truncated or
    replaced log is read anew."""
    position = log_size(path) if start is None else start
    partial = b""
    while True:
        size = log_size(path)
        if size < position:  # truncated or rotated: start over
            position, partial = 0, b""
        if size > position:
            with open(path, "rb") as f:
                f.seek(position)
                chunk = f.read(size - position)
            position += len(chunk)
            *complete, partial = (partial + chunk).split(b"\n")
            for line in complete:
                entry = _parse(line)
                if entry is not None:
                    yield entry
        else:
            time.sleep(poll_s)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
