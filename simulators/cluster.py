"""All simulated backends in one process, each on its own port, plus a control API beside them.

The control API (JSON, on its own port so it survives a court's outage) is how the CLI, tests and
benchmarks inject faults, read request counters, see the court's own records and act as court staff.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.adapters.model import Agent, Case, IdentityKind, PersonRef
from gateway.config import CourtConfig
from simulators.base import FamilySimulator
from simulators.generator import World
from simulators.persistence import Restored, StateFiles
from simulators.state import BackendState, Conflict, CourtState, Missing, PlatformState, Refused, StaffDesk

log = logging.getLogger("simulators")

#: protocol family → the simulator class that speaks it
FAMILY_SIMULATORS = {
    "v2-rest": "simulators.v2rest:V2RestSimulator",
    "soap-gbk": "simulators.soap_gbk:SoapGbkSimulator",
    "jsonrpc-sign": "simulators.jsonrpc_sign:JsonRpcSignSimulator",
    "csv-export": "simulators.csv_export:CsvExportSimulator",
}


def simulator_class(family: str) -> type[FamilySimulator]:
    module, _, name = FAMILY_SIMULATORS[family].partition(":")
    cls: type[FamilySimulator] = getattr(importlib.import_module(module), name)
    return cls


class SimulatedBackend:
    """One court (or the platform): its state, its family's app, and its listening socket."""

    def __init__(self, config: CourtConfig, world: World, host: str) -> None:
        self.config = config
        self.host = host
        self.state: BackendState = CourtState(world, config) if config.is_court else PlatformState(world, config)
        self.simulator = simulator_class(config.family)(config, self.state)
        self.desk = StaffDesk(self.state) if isinstance(self.state, CourtState) else None
        self.runner = web.AppRunner(self.simulator.build(), handle_signals=False, shutdown_timeout=0.5, access_log=None)
        self.site: web.TCPSite | None = None

    async def start(self) -> None:
        await self.runner.setup()
        await self.listen()

    async def listen(self) -> None:
        if self.site is None:
            self.site = web.TCPSite(self.runner, self.host, self.config.port, reuse_address=True)
            await self.site.start()
        self.state.faults.outage = False

    async def refuse(self) -> None:
        """Stop listening: clients get "connection refused", as when the court's server is down."""
        self.state.faults.outage = True
        if self.site is not None:
            await self.site.stop()
            self.site = None
        # a dead server drops kept-alive connections too, or pooled clients would never notice
        server = self.runner.server
        for connection in list(server.connections if server else ()):
            connection.force_close()

    async def stop(self) -> None:
        self.state.unhang.set()
        await self.runner.cleanup()


class SimulatorCluster:
    def __init__(self, configs: Iterable[CourtConfig], world: World, host: str = "127.0.0.1") -> None:
        self.world = world
        self.backends = {c.code: SimulatedBackend(c, world, host) for c in configs}
        self._control: web.AppRunner | None = None

    def backend(self, key: str) -> SimulatedBackend:
        """By court code (粤0104) or slug (yuexiu)."""
        if key in self.backends:
            return self.backends[key]
        for backend in self.backends.values():
            if backend.config.slug == key:
                return backend
        raise KeyError(key)

    def state(self, key: str) -> BackendState:
        return self.backend(key).state

    def court_state(self, key: str) -> CourtState:
        state = self.state(key)
        assert isinstance(state, CourtState), f"{key} is not a court"
        return state

    def desk(self, key: str) -> StaffDesk:
        desk = self.backend(key).desk
        if desk is None:
            raise KeyError(f"{key} has no staff side")
        return desk

    def remember(self, directory: Path) -> Restored:
        """Keep every backend's records in ``directory``: reload an earlier run's (all or none), then save
        after every change. Call before ``start``."""
        return StateFiles(directory, self.world).attach(b.state for b in self.backends.values())

    async def start(self) -> None:
        for backend in self.backends.values():
            await backend.start()

    async def stop(self) -> None:
        if self._control is not None:
            await self._control.cleanup()
        for backend in self.backends.values():
            await backend.stop()

    async def set_outage(self, key: str, down: bool) -> None:
        backend = self.backend(key)
        await (backend.refuse() if down else backend.listen())

    async def set_faults(self, key: str, **changes: Any) -> None:
        """Change faults at run time; ``outage`` opens or closes the socket, ``expire_sessions`` renews."""
        backend = self.backend(key)
        if changes.pop("expire_sessions", False):
            backend.simulator.expire_sessions()
        if "outage" in changes:
            await self.set_outage(key, bool(changes.pop("outage")))
        for name, value in changes.items():
            if not hasattr(backend.state.faults, name):
                raise ValueError(f"unknown fault {name!r}")
            setattr(backend.state.faults, name, value)
        if not backend.state.faults.hang:
            backend.state.unhang.set()

    async def clear_faults(self, key: str | None = None) -> None:
        for backend in [self.backend(key)] if key else list(self.backends.values()):
            backend.state.faults.clear()
            backend.state.unhang.set()
            await backend.listen()

    def reset_counters(self) -> None:
        for backend in self.backends.values():
            backend.state.counters.clear()

    # -- control API ---------------------------------------------------------------------------------

    async def serve_control(self, host: str, port: int) -> None:
        self._control = web.AppRunner(self.control_app(), handle_signals=False, shutdown_timeout=0.5, access_log=None)
        await self._control.setup()
        await web.TCPSite(self._control, host, port, reuse_address=True).start()

    def control_app(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors])
        app.add_routes(
            [
                web.get("/courts", self._list),
                web.get("/courts/{court}", self._show),
                web.post("/courts/{court}/faults", self._faults),
                web.delete("/courts/{court}/faults", self._clear),
                web.post("/counters/reset", self._reset),
                web.get("/people/busiest", self._busiest),
                web.get("/courts/{court}/filings", self._filings),
                web.get("/courts/{court}/signatures", self._signatures),
                web.get("/courts/{court}/agents", self._agents),
                web.post("/courts/{court}/staff/{action}", self._staff),
            ]
        )
        return app

    def _summary(self, backend: SimulatedBackend) -> dict[str, Any]:
        c = backend.config
        return {
            "code": c.code,
            "slug": c.slug,
            "name": c.name,
            "family": c.family,
            "url": c.base_url,
            "faults": dataclasses.asdict(backend.state.faults),
            "counters": dict(backend.state.counters),
        }

    async def _list(self, request: web.Request) -> web.Response:
        return _json([self._summary(b) for b in self.backends.values()])

    async def _show(self, request: web.Request) -> web.Response:
        return _json(self._summary(self.backend(request.match_info["court"])))

    async def _faults(self, request: web.Request) -> web.Response:
        key = request.match_info["court"]
        await self.set_faults(key, **await request.json())
        return _json(self._summary(self.backend(key)))

    async def _clear(self, request: web.Request) -> web.Response:
        await self.clear_faults(request.match_info["court"])
        return _json(self._summary(self.backend(request.match_info["court"])))

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_counters()
        return _json({"ok": True})

    async def _busiest(self, request: web.Request) -> web.Response:
        """The lawyers with cases in the most courts (ground truth for benchmarks and demos)."""
        limit = int(request.query.get("limit", "20"))
        spread: dict[str, set[str]] = {}
        for code, court in self.world.courts.items():
            for case in court.cases.values():
                for agent in case.agents:
                    spread.setdefault(agent.licence_number, set()).add(code)
        ranked = sorted(spread.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
        return _json([{"licence_number": number, "courts": sorted(codes)} for number, codes in ranked])

    async def _filings(self, request: web.Request) -> web.Response:
        state = self.court_state(request.match_info["court"])
        return _json(
            [
                {
                    "idempotency_key": k,
                    "case_number": r.filing.case_number,
                    "title": r.filing.title,
                    "receipt_number": r.receipt.receipt_number,
                    "deliveries": r.deliveries,
                    "handled": r.handled,
                }
                for k, r in state.filings.items()
            ]
        )

    async def _signatures(self, request: web.Request) -> web.Response:
        state = self.state(request.match_info["court"])
        return _json(
            [
                {"document_id": k, "signed_at": r.receipt.signed_at, "deliveries": r.deliveries}
                for k, r in state.signatures.items()
            ]
        )

    async def _agents(self, request: web.Request) -> web.Response:
        """Lawyers entered through the family's online write (案件绑定), by idempotency key."""
        state = self.court_state(request.match_info["court"])
        return _json(
            [
                {
                    "idempotency_key": k,
                    "case_id": r.case_id,
                    "licence_number": r.agent.licence_number,
                    "recorded_at": r.receipt.recorded_at,
                    "deliveries": r.deliveries,
                }
                for k, r in state.agent_writes.items()
            ]
        )

    async def _staff(self, request: web.Request) -> web.Response:
        desk = self.desk(request.match_info["court"])
        body: dict[str, Any] = await request.json()
        action = request.match_info["action"]
        missing = [name for name in STAFF_REQUIRED.get(action, ()) if not body.get(name)]
        if action != "handle-filing" and not (body.get("case_id") or body.get("case_number")):
            missing.insert(0, "case_id or case_number")
        if missing:  # a 400 saying what to add, not a 404 that reads as "no such case"
            raise ValueError(f"{action} needs {', '.join(missing)}")
        if action == "handle-filing":
            return _json(desk.handle_filing(body["receipt_number"], body.get("result", "已阅，材料已入卷")))
        case_id = body.get("case_id") or desk.state.case_by_number(body["case_number"]).case_id
        if action == "serve-document":
            who = addressee_ref(desk.state.case(case_id), body["addressee_number"], body.get("addressee_kind"))
            confirmed = str(body.get("address_confirmed", "true")).lower() not in ("false", "0", "no")
            return _json(
                desk.serve_document(
                    case_id, who, body["title"], body.get("doc_type", "通知书"), address_confirmed=confirmed
                )
            )
        if action == "schedule-hearing":
            return _json(
                desk.schedule_hearing(case_id, datetime.fromisoformat(body["starts_at"]), body.get("room", "第1法庭"))
            )
        if action == "close-case":
            return _json(desk.close_case(case_id))
        if action == "archive-case":
            return _json(desk.archive_case(case_id))
        if action == "add-agent":
            agent = Agent(body["name"], body["licence_number"], body.get("firm", ""), body["client_id_number"])
            return _json(desk.add_agent(case_id, agent))
        raise web.HTTPNotFound(text=f"unknown staff action {action}")


#: the fields each staff action cannot do without (besides the case, for all but handle-filing)
STAFF_REQUIRED: dict[str, tuple[str, ...]] = {
    "handle-filing": ("receipt_number",),
    "serve-document": ("addressee_number", "title"),
    "schedule-hearing": ("starts_at",),
    "add-agent": ("name", "licence_number", "client_id_number"),
}

#: ``--addressee-kind``: PARTY or LAWYER (the wire's own ID_NUMBER and LICENCE_NUMBER are taken too)
ADDRESSEE_KINDS = {
    "PARTY": IdentityKind.ID_NUMBER,
    "LAWYER": IdentityKind.LICENCE_NUMBER,
    "ID_NUMBER": IdentityKind.ID_NUMBER,
    "LICENCE_NUMBER": IdentityKind.LICENCE_NUMBER,
}


def addressee_ref(case: Case, number: str, kind: str | None) -> PersonRef:
    """Whom a document is served on: PARTY (an ID number) or LAWYER (a licence number); without a kind, the
    case says which (a party's number or an agent's). Raises ValueError for a kind it does not know."""
    if kind is None:
        lawyer = any(a.licence_number == number for a in case.agents)
        return PersonRef(IdentityKind.LICENCE_NUMBER if lawyer else IdentityKind.ID_NUMBER, number)
    if kind.upper() not in ADDRESSEE_KINDS:
        raise ValueError(f"addressee_kind is one of {', '.join(ADDRESSEE_KINDS)}, not {kind[:20]!r}")
    return PersonRef(ADDRESSEE_KINDS[kind.upper()], number)


def _default(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(value, default=_default, ensure_ascii=False), status=status, content_type="application/json"
    )


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except (KeyError, Missing) as e:
        return _json({"error": f"not found: {e}"}, 404)
    except (ValueError, Refused, Conflict) as e:
        return _json({"error": str(e)}, 400)
