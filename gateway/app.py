"""The ASGI app: Starlette routes, the lifespan that owns every long-lived resource, and auth.

``/graphql`` (POST and GET per GraphQL over HTTP; GraphiQL only when enabled), ``/healthz`` (the
process is up) and ``/readyz`` (the store answers, and how each court is doing).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UNSET, UnsetType

from gateway.body_limit import BodyLimit
from gateway.config import Settings
from gateway.context import Context
from gateway.core.seal import sealer_for
from gateway.feeds.effects import FeedSync
from gateway.feeds.follower import ChangeFollower
from gateway.identity import AuthError, TokenVerifier, Viewer
from gateway.readiness import readiness
from gateway.resolvers.archive import DOWNLOAD_PATH as MATERIAL_DOWNLOAD_PATH
from gateway.resolvers.archive import material_download
from gateway.resolvers.signing import DOWNLOAD_PATH, certificate_download
from gateway.schema import schema
from gateway.services import Services, build_services, build_workers

GRAPHQL_RESPONSE = "application/graphql-response+json"
log = logging.getLogger("gateway")


def build_verifier(settings: Settings) -> TokenVerifier:
    """HS256 with the demo key only when no real identity provider is configured: the demo key is public."""
    demo_key = settings.jwt_hs256_secret == Settings.model_fields["jwt_hs256_secret"].default
    hs256 = None if demo_key and settings.jwt_jwks_url else settings.jwt_hs256_secret or None
    if demo_key and hs256:
        log.warning(
            "the demo identity provider's key is in use: anyone with this repository can mint tokens; "
            "set GATEWAY_JWT_JWKS_URL (or GATEWAY_JWT_HS256_SECRET) outside the demo"
        )
    return TokenVerifier(
        hs256_secret=hs256,
        jwks_url=settings.jwt_jwks_url or None,
        issuer=settings.jwt_issuer or None,
        audience=settings.jwt_audience or None,
    )


class TextFrameWebSocket(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames; Strawberry would send our orjson bytes as binary ones,
    which browser clients (graphql-ws) cannot parse."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as e:
            raise WebSocketDisconnected from e


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson encoding and media-type negotiation."""

    websocket_adapter_class = TextFrameWebSocket

    def __init__(self, services: Services, verifier: TokenVerifier, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, multipart_uploads_enabled=True)
        self.services = services
        self.verifier = verifier

    async def get_context(self, request: Any, response: Any = None) -> Context:
        viewer, error = await self._authenticate(request.headers.get("authorization", ""))
        return Context(services=self.services, viewer=viewer, auth_error=error)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """WebSockets (graphql-transport-ws): browsers cannot set headers there, so the token comes in the
        ``connection_init`` payload (``{"Authorization": "Bearer …"}``), which Strawberry has put in
        ``context.connection_params`` by now; a bad token closes the connection (4403)."""
        params = {str(k).lower(): v for k, v in (context.connection_params or {}).items()}
        if "authorization" in params:
            context.viewer, context.auth_error = await self._authenticate(str(params["authorization"]))
        if context.auth_error:
            raise ConnectionRejectionError({"message": context.auth_error})
        return UNSET

    async def _authenticate(self, header: str) -> tuple[Viewer | None, str | None]:
        """The viewer a ``Bearer <token>`` value stands for, or why there is none (no header: anonymous)."""
        if not header:
            return None, None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, "the Authorization header must be 'Bearer <token>'"
        try:
            return await self.verifier.verify(token.strip()), None
        except AuthError as e:
            return None, str(e)

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        accept = request.headers.get("accept", "") if isinstance(request, Request) else ""
        sub_response.media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        return sub_response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        media_type = sub_response.media_type or "application/json"
        if media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict) and _never_executed(response_data):
            # GraphQL over HTTP: a document that failed to parse or validate has no data and is a 4xx
            response_data = {k: v for k, v in response_data.items() if k != "data"}  # type: ignore[assignment]
            sub_response.status_code = 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media_type
        return response


def _never_executed(response: GraphQLHTTPResponse) -> bool:
    """Parse and validation errors carry no path; execution errors always do."""
    errors: list[dict[str, Any]] = list(response.get("errors") or [])  # type: ignore[arg-type]
    return response.get("data") is None and bool(errors) and all(not e.get("path") for e in errors)


def create_app(settings: Settings | None = None, *, graphiql: bool | None = None) -> Starlette:
    settings = settings or Settings()
    services = build_services(settings)
    build_workers(services)
    graphql = GraphQLApp(
        services, build_verifier(settings), graphiql=settings.graphiql if graphiql is None else graphiql
    )
    sealer_for(settings)  # the seal key is read now: a bad one fails at start, the demo one is warned of

    follower = ChangeFollower(
        services.registry,
        services.cache,
        interval_s=settings.change_poll_s,
        store=services.store,
        sync=FeedSync({c.code: c for c in settings.courts}, clock=services.clock),
    )

    store = services.store

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.change_poll_s > 0:
            follower.start()
        services.workers.start()
        try:
            yield
        finally:
            await services.workers.stop()
            await follower.stop()
            await services.registry.aclose()
            await services.cache.close()
            await store.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when the store (at this code's schema) and the cache answer; courts are reported, not
        required (``gateway.readiness``)."""
        ready, body = await readiness(store, services.cache, services.registry, list(follower.cursors))
        return JSONResponse(body, status_code=200 if ready else 503)

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            # subscriptions: the same view speaks graphql-transport-ws on a WebSocket at the same path
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # 电子送达凭证: the PDF behind a short-lived signed link issued by `serviceCertificate`
            Route(DOWNLOAD_PATH + "{token}", certificate_download(services)),
            # 电子阅卷: a case-file material, watermarked and sealed, behind a link issued by `downloadMaterial`
            Route(MATERIAL_DOWNLOAD_PATH + "{token}", material_download(services)),
        ],
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_request_bytes)],
    )
    app.state.services = services
    app.state.store = store
    app.state.changes = follower
    return app
