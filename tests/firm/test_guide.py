"""The API guide's webhook receiver, run as written against a delivery the gateway's worker really sent:
the guide's verification snippet accepts it, records it once however often it comes, and refuses a
tampered body."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import update

from gateway.config import CourtConfig, Settings
from gateway.store import Store
from gateway.store.webhooks import WebhookDelivery, WebhookStatus
from gateway.webhooks.outbox import WebhookOutbox
from tests.firm.conftest import serving
from tests.firm.test_storage import SECRET, WANG, FixedGrants, endpoint, served

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"


def guide_receiver(secret: str) -> tuple[Any, dict[str, Any]]:
    """The guide's ``receive``, with a dict as the firm's store of recorded deliveries."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    snippet = next(b for b in blocks if "def receive" in b)
    recorded: dict[str, Any] = {}
    scope: dict[str, Any] = {
        "SECRET": secret,
        "already_recorded": recorded.__contains__,
        "record": recorded.__setitem__,
    }
    exec(compile(snippet, str(GUIDE), "exec"), scope)  # the guide's own code, as a firm would run it
    return scope["receive"], recorded


async def test_the_guides_receiver_verifies_a_real_delivery_and_records_it_once(
    store: Store, yuexiu: CourtConfig
) -> None:
    got: list[tuple[bytes, dict[str, str]]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((await request.read(), {k.lower(): v for k, v in request.headers.items()}))
        return web.Response(text="ok")

    async with serving(handle) as base:
        url = base + "/hook"
        await endpoint(store, "ep_wang", WANG.key or "", url, types=["document.served"], scopes=["documents:read"])
        await served(store, yuexiu, [WANG], "event:粤0104:guide", datetime.now(UTC))
        worker = WebhookOutbox(
            store, Settings(), FixedGrants(frozenset({"documents:read"}))
        )  # the real clock: the receiver checks it
        assert await worker.run_once() == 1
        async with store.session() as session:  # delivered again, as after a lost answer
            await session.execute(
                update(WebhookDelivery).values(status=WebhookStatus.PENDING, next_attempt_at=datetime.now(UTC))
            )
        assert await worker.run_once() == 1

    receive, recorded = guide_receiver(SECRET)
    assert [receive(body, headers) for body, headers in got] == [200, 200]
    assert len({h["webhook-id"] for _, h in got}) == 1 and list(recorded) == [got[0][1]["webhook-id"]]
    assert recorded[got[0][1]["webhook-id"]]["type"] == "document.served"
    body, headers = got[0]
    assert receive(body.replace("举证".encode(), "伪造".encode()), headers) == 400
