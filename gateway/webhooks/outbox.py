"""The webhook worker: delivers queued webhooks through the one outbox engine (``gateway.core.outbox``).

What is particular to webhooks:

- each delivery is signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body`` with the endpoint's secret,
  by the ``standardwebhooks`` package); ``webhook-id`` is the row's ``message_id``, the same for every
  attempt and replay, so a receiver deduplicates on it (at-least-once delivery);
- before each attempt the endpoint must still be enabled, its URL still allowed (``urls``: a name may
  have been re-pointed) and the person's grant to the client still active with the event's scope
  (:class:`~gateway.webhooks.grants.Grants`); otherwise the delivery ends, not retried;
- a 2xx answer is success; anything else (an HTTP error, no answer within ``webhook_timeout_s``) is
  retried with the engine's capped, jittered backoff; the ``webhook_max_attempts``-th failure (about a
  day of retries at the defaults) ends the delivery and disables its endpoint, until the client
  re-enables it and replays what it missed. The receiver's answer is read up to 64 KiB and dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from gateway.config import Settings
from gateway.core.errors import InvalidInput
from gateway.core.outbox import Failure, Outbox, RetryPolicy, utcnow
from gateway.notifications.events import EVENT_SCOPES
from gateway.store import Store, audit
from gateway.store.webhooks import WebhookDelivery, WebhookEndpoint, WebhookStatus
from gateway.webhooks.grants import Grants
from gateway.webhooks.urls import check_url

log = logging.getLogger("gateway.webhooks")

WORKER_NAME = "webhooks"
MAX_ANSWER = 64 * 1024
USER_AGENT = "court-gateway-webhooks/1"


def body_of(row: WebhookDelivery) -> str:
    """The exact JSON text sent (and signed)."""
    return json.dumps(row.payload, ensure_ascii=False, separators=(",", ":"))


async def disable(session: AsyncSession, endpoint_id: str, reason: str) -> None:
    statement = update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    await session.execute(statement.values(enabled=False, disabled_reason=reason[:200]))


class WebhookOutbox(Outbox[WebhookDelivery, int]):
    """Delivers ``webhook_deliveries`` (a :class:`gateway.workers.Worker`); the result is the HTTP status."""

    name = WORKER_NAME
    model = WebhookDelivery
    pending = WebhookDelivery.status == WebhookStatus.PENDING
    queued_at = WebhookDelivery.created_at

    def __init__(
        self,
        store: Store,
        settings: Settings,
        grants: Grants,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        policy = RetryPolicy(
            base_s=settings.webhook_retry_base_s,
            cap_s=settings.webhook_retry_max_s,
            max_attempts=settings.webhook_max_attempts,
            lease_s=max(settings.outbox_claim_lease_s, 4 * settings.webhook_timeout_s),
        )
        super().__init__(store, policy, clock=clock, rng=rng)
        self.grants = grants
        self.production = settings.mode == "production"
        self.timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s, sock_connect=settings.webhook_timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def round(self) -> AbstractAsyncContextManager[object]:
        return self._session()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """One HTTP client for a round's deliveries (its pool reuses connections to the same receiver)."""
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            self._http = http
            try:
                yield http
            finally:
                self._http = None

    async def deliver(self, row: WebhookDelivery) -> int:
        async with self.store.session(read_only=True) as session:
            endpoint = await session.get(WebhookEndpoint, row.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            raise Failure("ENDPOINT_DISABLED", "the endpoint is disabled", final=True)
        scopes = await self.grants.active_scopes(endpoint.client_id, endpoint.subject)
        if scopes is None:
            raise Failure("GRANT_REVOKED", "the person no longer authorises this client", final=True)
        if EVENT_SCOPES[row.event_type].value not in scopes:
            raise Failure("SCOPE_NOT_GRANTED", f"the grant lacks {EVENT_SCOPES[row.event_type].value}", final=True)
        try:
            await check_url(endpoint.url, production=self.production)
        except InvalidInput as e:
            raise Failure("URL_REFUSED", str(e), final=True) from None
        return await self._post(endpoint, row)

    async def _post(self, endpoint: WebhookEndpoint, row: WebhookDelivery) -> int:
        body, sent_at = body_of(row), self.clock()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": row.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(endpoint.secret).sign(row.message_id, sent_at, body),
        }
        if self._http is not None:  # within a round
            return await self._exchange(self._http, endpoint.url, body.encode(), headers)
        async with self._session() as http:
            return await self._exchange(http, endpoint.url, body.encode(), headers)

    async def _exchange(self, http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as answer:
                await answer.content.read(MAX_ANSWER)
                status = answer.status
        except TimeoutError:
            raise Failure("RECEIVER_TIMEOUT", "no answer in time", final=False) from None
        except aiohttp.ClientError as e:
            raise Failure("RECEIVER_UNREACHABLE", f"no answer ({type(e).__name__})", final=False) from None
        if not 200 <= status < 300:
            raise Failure(f"HTTP_{status}", f"the receiver answered HTTP {status}", final=False)
        return status

    async def delivered(self, session: AsyncSession, row: WebhookDelivery, result: int) -> dict[str, Any] | None:
        now = self.clock()
        row.status, row.delivered_at, row.last_attempt_at = WebhookStatus.DELIVERED, now, now
        row.last_status, row.last_error = result, None
        return None

    async def failed(self, session: AsyncSession, row: WebhookDelivery, failure: Failure) -> dict[str, Any] | None:
        row.last_attempt_at = self.clock()
        row.last_status = int(failure.code[5:]) if failure.code.startswith("HTTP_") else None
        row.last_error = f"{failure.code}: {failure.detail}"[:300]
        if failure.final:
            row.status = WebhookStatus.FAILED
            if failure.code != "ENDPOINT_DISABLED":
                await disable(session, row.endpoint_id, f"delivery {row.message_id} failed for good: {failure.code}")
                await audit.append(
                    session,
                    actor=audit.SYSTEM_ACTOR,
                    action="webhook.disabled",
                    subject_type="webhook_endpoint",
                    subject_id=row.endpoint_id,
                    details={"message_id": row.message_id, "reason": failure.code, "attempts": row.attempts},
                )
                log.warning("webhook endpoint %s disabled: %s", row.endpoint_id, failure)
        return None
