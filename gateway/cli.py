"""``court-gateway``: run the simulated courts and the gateway, and operate them.

Every command reads the same settings (``gateway.config``): environment variables ``GATEWAY_*`` and
the optional config file named by ``GATEWAY_CONFIG``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.config import Settings


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _control_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.sim_control_port}"


# -- sims -------------------------------------------------------------------------------------------


def cmd_sims(args: argparse.Namespace, settings: Settings) -> None:
    from simulators.runner import run_simulators

    size = args.cases_per_court
    if args.bench:
        from simulators.generator import SeedConfig

        size = SeedConfig.load(settings.seed_file).bench_cases_per_court
    asyncio.run(run_simulators(settings, size, state_dir=args.state_dir))


def cmd_sims_status(args: argparse.Namespace, settings: Settings) -> None:
    from simulators.control import control_request

    courts = asyncio.run(control_request(_control_url(settings), "GET", "/courts"))
    for court in courts:
        faults = {k: v for k, v in court["faults"].items() if v not in (0, 0.0, False, None)}
        print(
            f"{court['code']:<8}{court['family']:<14}{court['url']:<26}"
            f"requests={court['counters'].get('http', 0):<6} faults={faults or '-'}"
        )


def cmd_sims_fault(args: argparse.Namespace, settings: Settings) -> None:
    from simulators.control import control_request

    url, path = _control_url(settings), f"/courts/{args.court}/faults"
    if args.clear:
        _print_json(asyncio.run(control_request(url, "DELETE", path))["faults"])
        return
    body: dict[str, Any] = {}
    for name in ("latency_ms", "jitter_ms", "error_rate", "rate_limit_per_s", "hang", "outage"):
        value = getattr(args, name)
        if value is not None:
            body[name] = value
    if args.expire_sessions:
        body["expire_sessions"] = True
    _print_json(asyncio.run(control_request(url, "POST", path, body))["faults"])


def cmd_sims_staff(args: argparse.Namespace, settings: Settings) -> None:
    from simulators.control import control_request

    body = {k: v for k, v in vars(args).items() if k in STAFF_FIELDS and v is not None}
    path = f"/courts/{args.court}/staff/{args.action}"
    _print_json(asyncio.run(control_request(_control_url(settings), "POST", path, body)))


def cmd_sims_filings(args: argparse.Namespace, settings: Settings) -> None:
    from simulators.control import control_request

    _print_json(asyncio.run(control_request(_control_url(settings), "GET", f"/courts/{args.court}/filings")))


def cmd_world(args: argparse.Namespace, settings: Settings) -> None:
    """Generate the world and print what it holds: a quick look at the ground truth."""
    from gateway.adapters.model import PersonRef
    from simulators.runner import build_world

    world, seconds = build_world(settings, args.cases_per_court)
    print(f"{world.case_count():,} cases in {len(world.courts)} courts, generated in {seconds:.1f} s")
    for code, court in world.courts.items():
        print(f"  {code:<8}{court.court.name:<14}{len(court.cases):>7,} cases")
    for login, person in world.demo.items():
        ref = PersonRef(person.kind, person.number)
        spread = {code: len(c.cases_of(ref)) for code, c in world.courts.items() if c.cases_of(ref)}
        print(f"  {login:<12}{person.name}  {len(spread)} courts: {spread}")


EXAMPLE_QUERY = """{
  viewer { name roles identityLevel }
  myCases(first: 5) {
    totalCount
    edges { node { caseNumber courtCode cause status filedOn panel { name role } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


#: uvicorn on uvloop with the httptools parser (both pinned): the loop and h11 cost a sixth of a small read
FAST_SERVER: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}


def _gateway_server(settings: Settings, *, graphiql: bool) -> Any:
    """The gateway under uvicorn in this process (the demo's), not yet serving."""
    import uvicorn

    from gateway.app import create_app

    config = uvicorn.Config(
        create_app(settings, graphiql=graphiql),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        **FAST_SERVER,
    )
    return uvicorn.Server(config)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    """The gateway under uvicorn, ``--workers`` processes, each building its app from the same settings.

    Refuses to start on production settings that are not safe, and on a database that lacks this code's
    migrations (``court-gateway migrate`` is a separate deploy step, run once before the replicas).
    On SIGTERM it stops accepting, gives requests under way ``--graceful-timeout`` seconds, then stops
    the background workers (``gateway.workers``: the deliveries under way finish or wait out their lease).
    """
    import uvicorn

    from gateway.security import InsecureConfiguration, check_production

    try:
        check_production(settings)
    except InsecureConfiguration as e:
        raise SystemExit(f"court-gateway: {e}") from None
    _require_migrated(settings.database_url)
    os.environ.setdefault("GATEWAY_GC_TUNED", "true")  # each worker builds its settings from the environment
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        timeout_graceful_shutdown=args.graceful_timeout,
        log_level="warning",
        lifespan="on",
        **FAST_SERVER,
    )


def _require_migrated(database_url: str) -> None:
    """Exit with the command to run when the database lacks this code's migrations; warn when a later
    release has migrated it (an older release beside a newer schema: a rolling update, a rollback)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.migrate import behind_head, current_revision, head_revision

    shown = make_url(database_url).render_as_string(hide_password=True)
    try:
        revision = asyncio.run(current_revision(database_url))
    except (SQLAlchemyError, OSError) as e:
        cause = getattr(e, "orig", None) or e
        raise SystemExit(f"court-gateway: cannot read the database {shown}: {type(cause).__name__}") from None
    head = head_revision()
    if behind_head(revision):
        at = f"at revision {revision}" if revision else "not migrated"
        raise SystemExit(
            f"court-gateway: the database {shown} is {at}; this release needs revision {head}. "
            "Run `court-gateway migrate` (once, before starting the gateways), then start again."
        )
    if revision != head:
        print(
            f"court-gateway: the database {shown} is at revision {revision}, newer than this release's {head}; "
            "starting (migrations are additive), but finish the upgrade or the rollback soon",
            file=sys.stderr,
        )


def _database_file(settings: Settings) -> Path | None:
    """The gateway's SQLite database file, or None (PostgreSQL, in-memory)."""
    from sqlalchemy.engine import make_url

    from gateway.store.sqlite import sqlite_file

    return sqlite_file(make_url(settings.database_url)) if settings.database_url.startswith("sqlite") else None


def demo_state_dir(settings: Settings) -> Path:
    """Where the demo's courts keep their records: beside the gateway's SQLite database (``.data/sims`` by
    default), so that one ``make clean`` (or one deleted directory) forgets both together."""
    database = _database_file(settings)
    return database.with_name("sims") if database is not None else Path(".data/sims")


def start_database_afresh(settings: Settings) -> str | None:
    """The courts start from their seed (no records of an earlier run): a gateway database kept from one
    would hold filings and receipt numbers the courts never saw, so it is moved aside (not deleted).
    Returns what was done, for the console."""
    database = _database_file(settings)
    if database is None:
        if settings.database_url.startswith("sqlite"):
            return None
        return "the gateway's database is not a file: if it holds an earlier run, its filings may not match the courts"
    if not database.exists():
        return None
    aside = database.with_name(f"{database.stem}-{datetime.now():%Y%m%d-%H%M%S}{database.suffix}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    return f"the gateway's database of an earlier run was moved to {aside}: the gateway starts afresh too"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    """The simulated courts and the gateway in one process, on the embedded defaults (and demo secrets).

    The courts keep their records beside the gateway's database (``demo_state_dir``), so a restarted demo
    carries on where it stopped, as a court's system would; when they start from their seed instead, the
    gateway does too (``start_database_afresh``), and the console says so.
    """
    from gateway.store.migrate import upgrade_async
    from simulators.identities import demo_logins
    from simulators.runner import run_simulators

    settings = settings.model_copy(update={"mode": "demo"})  # the demo runs on the demo secrets, whatever the env

    async def ready(cluster: Any, world: Any, restored: Any) -> Callable[[], Awaitable[None]]:
        if not restored.loaded and (done := start_database_afresh(settings)):
            print(done)
        revision = await upgrade_async(settings.database_url)
        print(f"gateway database: {settings.database_url} at revision {revision}")
        served = settings
        if not settings.idp_issuer:  # persons sign in to authorise firms' software at the demo provider
            served = await _serve_demo_idp(settings, world)
            print(f"demo identity provider (OpenID Connect): {served.idp_issuer}")
        server = _gateway_server(served, graphiql=True)
        gateway = asyncio.create_task(server.serve())
        await asyncio.sleep(0.5)
        if gateway.done():
            gateway.result()

        async def stop_gateway() -> None:
            """Before the courts stop: the gateway shuts down as ``serve`` does (its lifespan stops the
            background workers), rather than being cancelled mid-lifespan when the loop ends."""
            server.should_exit = True
            await gateway

        url = f"http://{settings.host}:{settings.port}/graphql"
        print(f"\ncourt-gateway is up: {url}  (GraphiQL: open it in a browser)")
        print(f"Reference web client: http://{settings.host}:{settings.port}/app/  (sign in as a demo login)")
        print("\nDemo logins (mint a token with: .venv/bin/court-gateway token <login>):")
        for login in demo_logins(world, settings.seed_file):
            print(f"  {login}")
        print('\nTry, in GraphiQL with the header {"Authorization": "Bearer <token>"}:')
        print(EXAMPLE_QUERY)
        print("\nCtrl-C stops everything.", flush=True)
        return stop_gateway

    import uvloop

    # the gateway's server runs inside this loop (uvicorn's own ``loop`` option applies when it makes one)
    uvloop.run(run_simulators(settings, args.cases_per_court, ready=ready, state_dir=demo_state_dir(settings)))


async def _serve_demo_idp(settings: Settings, world: Any) -> Settings:
    """Start the demo OpenID Connect provider (``simulators.oidc``) in this loop: the settings that make
    the gateway its relying party."""
    import uvicorn

    from gateway.oauth.idp import CALLBACK_PATH
    from simulators.oidc import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_oidc_app

    issuer = f"http://{settings.host}:{settings.demo_idp_port}"
    app = demo_oidc_app(world, settings.seed_file, issuer, [settings.oauth_issuer_url + CALLBACK_PATH])
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.demo_idp_port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    _background.add(task)
    return settings.model_copy(
        update={"idp_issuer": issuer, "idp_client_id": DEMO_CLIENT_ID, "idp_client_secret": DEMO_CLIENT_SECRET}
    )


#: tasks the demo keeps running beside the gateway (held here so they are not collected)
_background: set[asyncio.Task[None]] = set()


def demo_token(settings: Settings, login: str, *, level: str | None = None, ttl_s: int = 8 * 3600) -> str:
    """A bearer token from the built-in demo identity provider."""
    from gateway.identity import mint_hs256
    from simulators.identities import demo_claims, demo_logins
    from simulators.runner import build_world

    world, _ = build_world(settings)
    try:
        claims = demo_claims(world, settings.seed_file, login)
    except (KeyError, StopIteration):
        known = ", ".join(demo_logins(world, settings.seed_file))
        raise SystemExit(f"unknown demo login {login!r}; known: {known}") from None
    if level:
        claims["level"] = level
    return mint_hs256(claims, settings.jwt_hs256_secret, ttl_s=ttl_s)


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    print(demo_token(settings, args.login, level=args.level, ttl_s=args.ttl))


# -- clients (OAuth, issue 14) ------------------------------------------------------------------------


def cmd_clients_add(args: argparse.Namespace, settings: Settings) -> None:
    """Register a firm's software; its id (and a confidential client's secret) is printed once."""
    from gateway.core.runtime import utc_now
    from gateway.identity import Scope
    from gateway.oauth import store as oauth_store
    from gateway.oauth.redirects import redirect_problem
    from gateway.store import Store

    known = {s.value for s in Scope}
    unknown = sorted(set(args.scope) - known)
    if unknown:
        raise SystemExit(f"court-gateway: unknown scopes {unknown}; known: {' '.join(sorted(known))}")
    for uri in args.redirect_uri:
        problem = redirect_problem(uri, production=settings.mode == "production")
        if problem:
            raise SystemExit(f"court-gateway: redirect URI {uri!r}: {problem}")

    async def add() -> tuple[str, str | None]:
        async with Store(settings.database_url) as db:
            return await oauth_store.add_client(
                db,
                name=args.name,
                redirect_uris=args.redirect_uri,
                scopes=args.scope,
                public=args.public,
                rate_per_s=args.rate,
                burst=args.burst,
                may_introspect=args.introspection,
                now=utc_now(),
            )

    client_id, secret = asyncio.run(add())
    print(f"client_id:     {client_id}")
    if secret:
        print(f"client_secret: {secret}")
        print("(the secret is shown once: keep it now; the gateway stores only its hash)")
    else:
        print("public client: no secret (PKCE only)")


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> None:
    from gateway.oauth import store as oauth_store
    from gateway.store import Store

    async def clients() -> list[Any]:
        async with Store(settings.database_url) as db:
            return await oauth_store.list_clients(db)

    for client, grants in asyncio.run(clients()):
        kind = "public" if client.public else "confidential"
        state = "REVOKED" if client.revoked else f"{grants} live grants"
        quota = f"{client.rate_per_s or settings.oauth_client_rate_per_s}/s burst {client.burst or settings.oauth_client_burst}"
        print(f"{client.client_id}  {client.name}  {kind}  [{' '.join(sorted(client.scopes))}]  {quota}  {state}")
        for uri in client.redirect_uris:
            print(f"    redirect: {uri}")


def cmd_clients_revoke(args: argparse.Namespace, settings: Settings) -> None:
    """Revoke a client (and every grant made to it), or one grant (``--grant``)."""
    from gateway.core.runtime import utc_now
    from gateway.oauth import store as oauth_store
    from gateway.store import Store

    async def revoke() -> bool:
        async with Store(settings.database_url) as db:
            if args.grant:
                return await oauth_store.revoke_grant(db, args.id, oauth_store.BY_COURT, now=utc_now())
            return await oauth_store.revoke_client(db, args.id, now=utc_now())

    what = "grant" if args.grant else "client"
    if not asyncio.run(revoke()):
        raise SystemExit(f"court-gateway: no live {what} {args.id!r}")
    print(f"revoked {what} {args.id}: its tokens stop within GATEWAY_OAUTH_GRANT_CHECK_S seconds")


def cmd_notifications_watch(args: argparse.Namespace, settings: Settings) -> None:
    """Print each new in-app notification as the gateway pushes it (the notificationAdded subscription)."""
    from gateway.watch import WatchError, format_notice, notifications

    token = args.token or demo_token(settings, args.login)
    url = args.url or f"http://{settings.host}:{settings.port}/graphql"

    async def watch() -> None:
        print(f"watching notifications on {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
        async for notice in notifications(url, token, after=args.after):
            print(format_notice(notice), flush=True)

    try:
        asyncio.run(watch())
    except WatchError as e:
        raise SystemExit(f"court-gateway: {e}") from None
    except KeyboardInterrupt:
        pass


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from gateway.schema import schema

    text = schema.as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


def cmd_trusted_documents(args: argparse.Namespace, settings: Settings) -> None:
    """Write (or with --check, compare) a client's trusted-document manifest from its operations, after
    checking that every operation validates against this gateway's schema."""
    from graphql import parse, validate

    from gateway.persisted import build_manifest, manifest_text
    from gateway.schema import schema

    manifest = build_manifest(Path(args.operations))
    for key, text in manifest.items():
        errors = validate(schema._schema, parse(text))
        if errors:
            raise SystemExit(f"{args.operations}: document {key[:12]}… does not validate: {errors[0].message}")
    text = manifest_text(manifest)
    output = Path(args.manifest)
    if args.check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            raise SystemExit(f"{output} is out of date: run court-gateway trusted-documents {args.operations} {output}")
        print(f"{output}: {len(manifest)} documents, up to date")
        return
    output.write_text(text, encoding="utf-8")
    print(f"{output}: {len(manifest)} documents")


# -- store ------------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    """Bring the gateway's database to the newest schema; idempotent, so safe at every deploy."""
    from sqlalchemy.engine import make_url

    from gateway.store.migrate import upgrade

    revision = upgrade(settings.database_url)
    print(f"{make_url(settings.database_url).render_as_string(hide_password=True)} is at revision {revision}")


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> None:
    """Check the audit log's hash chain; exit 1 when it is broken, 2 when it cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.audit import AuditVerification, verify
    from gateway.store.db import Store

    async def run() -> AuditVerification:
        async with Store(settings.database_url) as store, store.session(read_only=True) as session:
            return await verify(session)

    try:
        result = asyncio.run(run())
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        print(f"cannot read the audit log (has `court-gateway migrate` run?): {cause}", file=sys.stderr)
        sys.exit(2)
    print(result)
    if not result.ok:
        sys.exit(1)


# -- seals ------------------------------------------------------------------------------------------


def cmd_seal_verify(args: argparse.Namespace, settings: Settings) -> None:
    """Check a sealed PDF (a case-file download, a service certificate): its court's PDF signature against the
    configured trust roots, or a seal of the earlier form against the legacy keys. Exit 0 when valid, 1 when
    not (tampered, forged, untrusted, unsealed), 2 when the file cannot be read."""
    from gateway.core.pdfsign import court_seals_for

    try:
        with open(args.file, "rb") as f:
            content = f.read()
    except OSError as e:
        print(f"cannot read {args.file}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    check = court_seals_for(settings).verify(content)
    print(f"{args.file}: {check}")
    if not check.valid:
        sys.exit(1)


def cmd_seal_demo_root(args: argparse.Namespace, settings: Settings) -> None:
    """The demo chain's root certificate as PEM (created on first use), for a PDF reader's trusted
    certificates; a demo-only root: production has none."""
    from gateway.core.demo_chain import DemoChain
    from gateway.core.pdfsign import demo_dir

    if settings.mode == "production":
        print("production seals with the court's own certificates: there is no demo root", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write(DemoChain(demo_dir(settings)).root_pem().decode())


# -- sms --------------------------------------------------------------------------------------------


def cmd_sms_tail(args: argparse.Namespace, settings: Settings) -> None:
    """The demo SMS provider's messages, readably: time (court time), masked phone, text."""
    from gateway.notifications.sms_providers import follow_entries, format_entry, last_entries, log_path, log_size

    path = log_path(settings)
    end = log_size(path)
    entries = last_entries(path, args.lines, end=end)
    if not entries and not args.follow:
        print(f"no messages yet in {path}", file=sys.stderr)
    for entry in entries:
        print(format_entry(entry), flush=True)
    if args.follow:
        for entry in follow_entries(path, start=end):
            print(format_entry(entry), flush=True)


# -- tickets ----------------------------------------------------------------------------------------


def cmd_tickets_escalate(args: argparse.Namespace, settings: Settings) -> None:
    """One escalation round, at ``--now`` (ISO 8601; default: now): what the background scheduler does,
    for demos and operations. Safe beside running gateways: each level is sent once, whoever sends it."""
    from datetime import UTC, datetime

    from gateway.adapters.model import CHINA_TZ
    from gateway.app import build_services
    from gateway.core.deadlines import EscalationScheduler

    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=CHINA_TZ)  # a bare time is court time

    async def run() -> int:
        services = build_services(settings)
        try:
            return await EscalationScheduler(services).run_once(now)
        finally:
            await services.registry.aclose()
            await services.cache.close()
            await services.store.dispose()

    sent = asyncio.run(run())
    print(f"{sent} escalation(s) sent at {now.astimezone(CHINA_TZ).isoformat(timespec='minutes')}")


def cmd_tickets_report(args: argparse.Namespace, settings: Settings) -> None:
    """The 12368 通报 of a court for a period, as a table (the ticketReport query's figures)."""
    from datetime import UTC, date, datetime

    from gateway.store.db import Store
    from gateway.tickets.service import court_report

    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)

    async def run() -> Any:
        async with Store(settings.database_url) as store:
            return await court_report(store, args.court, start, end, now=datetime.now(UTC))

    report = asyncio.run(run())
    print(f"12368 通报 {report.court_code} {report.start} – {report.end}")
    header = (
        f"{'':<24}{'received':>9}{'on time':>9}{'late':>6}{'overdue':>9}{'escalated':>11}{'mean h':>8}"
        f"{'closed unanswered':>19}"
    )
    for title, rows in (("per division", report.by_division), ("per handler", report.by_handler)):
        print(f"\n{title}\n{header}")
        for row in rows:
            named = f"{row.name or row.staff_id} ({row.division or '-'})"
            label = (row.division or "-") if row.staff_id is None else named
            print(_report_line(label, row.figures))
    print(f"\n{_report_line('total', report.total)}")


def _report_line(label: str, f: Any) -> str:
    mean = "-" if f.mean_hours_to_settle is None else f"{f.mean_hours_to_settle:.1f}"
    return (
        f"{label:<24}{f.received:>9}{f.settled_on_time:>9}{f.settled_late:>6}{f.overdue:>9}{f.escalated:>11}{mean:>8}"
        f"{f.closed_unanswered:>19}"
    )


STAFF_FIELDS = (
    "receipt_number",
    "result",
    "case_number",
    "case_id",
    "addressee_number",
    "addressee_kind",
    "title",
    "doc_type",
    "starts_at",
    "room",
    "name",
    "licence_number",
    "firm",
    "client_id_number",
    "address_confirmed",
)
#: the staff fields whose values are a closed set
STAFF_FIELD_OPTIONS: dict[str, dict[str, Any]] = {
    "addressee_kind": {
        "choices": ["PARTY", "LAWYER"],
        "help": "serve-document: on a party (ID number) or a lawyer (licence number); default: as the case says",
    },
    "address_confirmed": {
        "choices": ["true", "false"],
        "help": "serve-document: whether the addressee gave or confirmed this electronic address (default true)",
    },
}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="court-gateway", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="start the 14 simulated backends and the gateway on the defaults")
    demo.add_argument("--cases-per-court", type=int, default=None)
    demo.set_defaults(func=cmd_demo)

    serve = commands.add_parser("serve", help="run the gateway (uvicorn) on a migrated database")
    serve.add_argument("--host", help="address to listen on (default: GATEWAY_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: GATEWAY_PORT)")
    serve.add_argument("--workers", type=_positive, default=1, help="gateway processes (default 1)")
    serve.add_argument(
        "--graceful-timeout",
        type=_positive,
        default=20,
        metavar="SECONDS",
        help="on SIGTERM, how long requests under way may finish (default 20)",
    )
    serve.set_defaults(func=cmd_serve)

    token = commands.add_parser("token", help="print a bearer token for a demo login (demo identity provider)")
    token.add_argument("login", help="lawyer-chen, lawyer-li, party-wang, clerk-0104, judge-01, …")
    token.add_argument("--level", choices=["PHONE", "REAL_NAME", "FACE"], help="override the identity level")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL) exported from the code")
    export.add_argument("output", nargs="?", default="schema.graphql", help="file, or - for stdout")
    export.set_defaults(func=cmd_export_schema)

    trusted = commands.add_parser(
        "trusted-documents", help="build a client's trusted-document manifest from its *.graphql operations"
    )
    trusted.add_argument("operations", help="directory of the client's operations, one *.graphql file each")
    trusted.add_argument("manifest", help="the manifest to write, e.g. clients/manifests/demo.json")
    trusted.add_argument("--check", action="store_true", help="only check that the manifest is up to date")
    trusted.set_defaults(func=cmd_trusted_documents)

    migrate = commands.add_parser("migrate", help="bring the gateway's database to the newest schema (Alembic)")
    migrate.set_defaults(func=cmd_migrate)

    audit = commands.add_parser("audit", help="inspect the gateway's audit log")
    audit_ops = audit.add_subparsers(dest="audit_command", required=True)
    audit_ops.add_parser("verify", help="check the hash chain; exit 1 when it is broken").set_defaults(
        func=cmd_audit_verify
    )

    notices = commands.add_parser("notifications", help="in-app notifications")
    notice_ops = notices.add_subparsers(dest="notifications_command", required=True)
    watch = notice_ops.add_parser("watch", help="print your notifications live (the notificationAdded subscription)")
    who = watch.add_mutually_exclusive_group(required=True)
    who.add_argument("--as", dest="login", help="a demo login (the demo identity provider mints its token)")
    who.add_argument("--token", help="a bearer token")
    watch.add_argument("--url", help="the gateway's /graphql URL (default: the configured host and port)")
    watch.add_argument("--after", help="also replay the notifications after this notification ID first")
    watch.set_defaults(func=cmd_notifications_watch)

    clients = commands.add_parser("clients", help="registered OAuth clients (firms' software)")
    client_ops = clients.add_subparsers(dest="clients_command", required=True)
    add = client_ops.add_parser("add", help="register a client; prints its id and secret once")
    add.add_argument("name", help="the name people see on the consent page, e.g. the firm's product")
    add.add_argument("--redirect-uri", action="append", required=True, help="an exact redirect URI (repeat)")
    add.add_argument("--scope", action="append", required=True, help="a scope it may ask for (repeat)")
    add.add_argument("--public", action="store_true", help="a public client (no secret; PKCE only)")
    add.add_argument(
        "--rate", type=float, help="quota: requests refilled per second (default GATEWAY_OAUTH_CLIENT_RATE_PER_S)"
    )
    add.add_argument("--burst", type=_positive, help="quota: the bucket's size (default GATEWAY_OAUTH_CLIENT_BURST)")
    add.add_argument("--introspection", action="store_true", help="a court resource server: may introspect any token")
    add.set_defaults(func=cmd_clients_add)
    client_ops.add_parser("list", help="every client, its scopes, quota and live grants").set_defaults(
        func=cmd_clients_list
    )
    revoke = client_ops.add_parser("revoke", help="revoke a client and all its grants, or one grant (--grant)")
    revoke.add_argument("id", help="a client_id, or a grant id with --grant")
    revoke.add_argument("--grant", action="store_true", help="revoke one person's grant, not the client")
    revoke.set_defaults(func=cmd_clients_revoke)

    seal = commands.add_parser("seal", help="court seals (PDF signatures) of case-file downloads and certificates")
    seal_ops = seal.add_subparsers(dest="seal_command", required=True)
    seal_verify = seal_ops.add_parser(
        "verify", help="check a file's seal; exit 0 valid, 1 not (tampered, forged, untrusted, unsealed), 2 unreadable"
    )
    seal_verify.add_argument("file", help="the downloaded PDF")
    seal_verify.set_defaults(func=cmd_seal_verify)
    seal_root = seal_ops.add_parser(
        "demo-root", help="print the demo seal chain's root certificate (PEM), to trust it in a PDF reader"
    )
    seal_root.set_defaults(func=cmd_seal_demo_root)

    sms = commands.add_parser("sms", help="the text messages the gateway sent")
    sms_ops = sms.add_subparsers(dest="sms_command", required=True)
    tail = sms_ops.add_parser("tail", help="print the demo provider's last messages (.data/sms.log)")
    tail.add_argument("-n", "--lines", type=int, default=10, help="how many of the last messages (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new messages as they are sent")
    tail.set_defaults(func=cmd_sms_tail)

    tickets = commands.add_parser("tickets", help="12368 tickets: escalation rounds and the 通报 report")
    ticket_ops = tickets.add_subparsers(dest="tickets_command", required=True)
    escalate = ticket_ops.add_parser("escalate", help="run one escalation round (what the scheduler does)")
    escalate.add_argument("--now", help="the round's time, ISO 8601 (no zone: court time); default now")
    escalate.set_defaults(func=cmd_tickets_escalate)
    ticket_report = ticket_ops.add_parser("report", help="print the 通报 of a court for a period")
    ticket_report.add_argument("court", help="court code, e.g. 粤0104")
    ticket_report.add_argument("start", metavar="FROM", help="first day, YYYY-MM-DD")
    ticket_report.add_argument("end", metavar="TO", help="last day (included), YYYY-MM-DD")
    ticket_report.set_defaults(func=cmd_tickets_report)

    world = commands.add_parser("world", help="generate the seeded world and summarise it")
    world.add_argument("--cases-per-court", type=int, default=None)
    world.set_defaults(func=cmd_world)

    sims = commands.add_parser("sims", help="run and operate the simulated legacy courts")
    sims.add_argument("--cases-per-court", type=int, default=None, help="world size (default: the seed's demo size)")
    sims.add_argument("--bench", action="store_true", help="use the seed's bench size")
    sims.add_argument(
        "--state-dir", type=Path, default=None, help="keep the courts' records here across restarts (default: forget)"
    )
    sims.set_defaults(func=cmd_sims)
    sims_ops = sims.add_subparsers(dest="sims_command")

    sims_ops.add_parser("status", help="each backend's URL, request count and faults").set_defaults(
        func=cmd_sims_status
    )

    fault = sims_ops.add_parser("fault", help="inject faults into one backend at run time")
    fault.add_argument("court", help="court code (粤0104) or slug (yuexiu)")
    fault.add_argument("--latency-ms", type=float)
    fault.add_argument("--jitter-ms", type=float)
    fault.add_argument("--error-rate", type=float, help="share of requests answered with the family's error")
    fault.add_argument("--rate-limit-per-s", type=float, help="requests per second before the family's 'slow down'")
    fault.add_argument("--hang", action=argparse.BooleanOptionalAction, default=None, help="accept, never answer")
    fault.add_argument(
        "--outage", action=argparse.BooleanOptionalAction, default=None, help="stop listening (connection refused)"
    )
    fault.add_argument("--expire-sessions", action="store_true", help="expire every token or session now")
    fault.add_argument("--clear", action="store_true", help="lift every fault")
    fault.set_defaults(func=cmd_sims_fault)

    filings = sims_ops.add_parser("filings", help="the filings a court has recorded (its own records)")
    filings.add_argument("court")
    filings.set_defaults(func=cmd_sims_filings)

    staff = sims_ops.add_parser("staff", help="act as court staff inside a court's own system")
    staff.add_argument("court")
    staff.add_argument(
        "action",
        choices=["handle-filing", "serve-document", "schedule-hearing", "close-case", "archive-case", "add-agent"],
    )
    for name in STAFF_FIELDS:
        staff.add_argument(f"--{name.replace('_', '-')}", **STAFF_FIELD_OPTIONS.get(name, {}))
    staff.set_defaults(func=cmd_sims_staff)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        args.func(args, settings)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()


if __name__ == "__main__":
    main()
