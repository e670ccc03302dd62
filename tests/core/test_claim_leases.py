"""How long a claimed delivery is left to its worker, per outbox, comes from the settings: the wait before
another replica delivers again what a dead one had claimed (the cluster test sets it short)."""

from __future__ import annotations

from pathlib import Path

from gateway.bindings.outbox import BindingOutbox
from gateway.config import Settings
from gateway.core.outbox import Outbox
from gateway.documents.outbox import SignatureOutbox
from gateway.filings.outbox import FilingOutbox
from gateway.notifications.sms import SmsWorker
from gateway.services import build_services, build_workers
from gateway.store.testing import sqlite_url
from gateway.webhooks.outbox import WebhookOutbox


async def leases(tmp_path: Path, **settings: float) -> dict[type, float]:
    services = build_services(Settings(database_url=sqlite_url(tmp_path), **settings))
    try:
        build_workers(services)
        return {type(w): w.policy.lease_s for w in services.workers.workers if isinstance(w, Outbox)}
    finally:
        await services.registry.aclose()
        await services.cache.close()
        await services.store.dispose()


async def test_each_outbox_holds_its_claims_as_long_as_configured(tmp_path: Path) -> None:
    default = await leases(tmp_path)
    assert default[SignatureOutbox] == default[BindingOutbox] == default[SmsWorker] == default[WebhookOutbox] == 120.0
    assert default[FilingOutbox] == 60.0

    short = await leases(
        tmp_path, outbox_claim_lease_s=5, filing_claim_lease_s=4, sms_http_timeout_s=1, webhook_timeout_s=1
    )
    assert short[SignatureOutbox] == short[BindingOutbox] == short[SmsWorker] == short[WebhookOutbox] == 5.0
    assert short[FilingOutbox] == 4.0
    # a text's claim always outlasts four of the provider's timeouts, whatever the setting says
    assert (await leases(tmp_path, outbox_claim_lease_s=5, sms_http_timeout_s=10))[SmsWorker] == 40.0
    # and a webhook's four of the receiver's timeouts
    assert (await leases(tmp_path, outbox_claim_lease_s=5, webhook_timeout_s=10))[WebhookOutbox] == 40.0
