"""The reference web client (``clients/web``), served under ``/app/`` in demo mode, and the demo sign-in it uses.

The client's built files are committed in ``clients/web/dist`` (``make web`` rebuilds them with npm; serving
them needs no npm) and ship in the package as ``gateway/static/web``, a link to that directory. The page's
Content-Security-Policy keeps it to this origin: its one script bundles graphql-ws, nothing is fetched
from elsewhere.

``/demo/login`` is the built-in demo identity provider's sign-in, for the client's login form: it mints a
token for a demo login (``lawyer-chen`` …). It exists only while the gateway trusts the demo's public key
(``uses_demo_identity_provider``), when anyone holding this repository can mint the same token anyway;
production, or a configured identity provider, has no such route.

Per-process state: the seeded world the demo logins resolve against, built once at the first sign-in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gateway.config import DEMO_JWT_HS256_SECRET, Settings

if TYPE_CHECKING:
    from simulators.generator import World

DIST = Path(__file__).resolve().parent / "static" / "web"
WEB_PATH = "/app"
LOGIN_PATH = "/demo/login"
#: longest login name accepted (the demo's are short); anything longer is refused unread
MAX_LOGIN_CHARS = 64
#: the page's own script and styles, requests to this origin only (HTTP and its WebSocket)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def uses_demo_identity_provider(settings: Settings) -> bool:
    """The gateway trusts tokens signed with the demo's public key: demo mode, no real identity provider."""
    never_demo = bool(settings.jwt_jwks_url) or settings.mode == "production"
    return settings.jwt_hs256_secret == DEMO_JWT_HS256_SECRET and not never_demo


class _WithPolicy:
    """Static files answered with the page's Content-Security-Policy."""

    def __init__(self, app: StaticFiles) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_policy)


def routes(settings: Settings) -> list[BaseRoute]:
    """``/app/`` (demo mode, when the client is built) and the demo sign-in (demo identity provider only)."""
    found: list[BaseRoute] = []
    if uses_demo_identity_provider(settings):
        found.append(Route(LOGIN_PATH, DemoLogin(settings), methods=["GET", "POST"]))
    if settings.mode == "demo" and (DIST / "index.html").is_file():
        found.append(Mount(WEB_PATH, _WithPolicy(StaticFiles(directory=DIST, html=True)), name="web"))
    return found


class DemoLogin:
    """GET: the demo logins; POST ``{"login": …}``: a token for it (``BAD_USER_INPUT`` for anything else)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._world: asyncio.Task[World] | None = None

    async def world(self) -> World:
        if self._world is None:
            from simulators.runner import build_world

            self._world = asyncio.ensure_future(asyncio.to_thread(lambda: build_world(self.settings)[0]))
        return await asyncio.shield(self._world)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await (self.logins() if request.method == "GET" else self.login(request))
        await response(scope, receive, send)

    async def logins(self) -> Response:
        from simulators.identities import demo_logins

        return JSONResponse({"logins": demo_logins(await self.world(), self.settings.seed_file)})

    async def login(self, request: Request) -> Response:
        from gateway.identity import mint_hs256
        from simulators.identities import demo_claims

        try:
            body = await request.json()
        except ValueError:
            body = None
        login = body.get("login") if isinstance(body, dict) else None
        if not isinstance(login, str) or not login or len(login) > MAX_LOGIN_CHARS:
            return _refused("send a JSON object with a demo `login`")
        try:
            claims = demo_claims(await self.world(), self.settings.seed_file, login)
        except (KeyError, StopIteration):
            return _refused("no such demo login")
        token = mint_hs256(claims, self.settings.jwt_hs256_secret, ttl_s=8 * 3600)
        return JSONResponse({"token": token, "name": claims["name"]}, headers={"Cache-Control": "no-store"})


def _refused(message: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}, status_code=400)
