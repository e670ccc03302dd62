"""The ASGI app: Starlette routes, the lifespan that owns every long-lived resource, and auth.

``/graphql`` (POST and GET per GraphQL over HTTP; GraphiQL only when enabled; rate-limited per principal,
``gateway.demand.ratelimit``; a read-only case query's whole answer replayed from the response cache
while nothing it drew on changed, ``gateway.response_cache``, after every edge check), ``/healthz`` (the process is up), ``/readyz`` (the store answers, and how
each court is doing), ``/metrics`` (Prometheus, operators only: ``gateway.observability.exposition``) and
``/ops`` (the operators' HTML page, same access: ``gateway.observability.ops``); in demo mode the
reference web client at ``/app/`` and the demo sign-in ``/demo/login`` (``gateway.webclient``).
Every answer carries ``X-Request-Id`` and ends with one JSON access line; with tracing on, W3C trace
context comes in and goes out (``gateway.observability``).

Every refusal at ``/graphql`` is a GraphQL-shaped body with ``extensions.code``, logged as one line: a
body that is not one JSON object (``BAD_REQUEST``), a document over its ceiling
(``DOCUMENT_TOO_LARGE``, also a multipart request's ``operations`` part), a subscription over HTTP
(``SUBSCRIPTION_OVER_HTTP_UNSUPPORTED``: they are served on the WebSocket at the same path), a principal
over its rate (``RATE_LIMITED``, HTTP 429). On the WebSocket, a client's operations count against its quota
and the connection ends (4403) once its token expires or its grant is revoked (``gateway.ws_guard``).

A request may name its document instead of sending it: ``documentId`` or ``extensions.persistedQuery``
(trusted documents and APQ, ``gateway.persisted``), over HTTP GET and POST and in a WebSocket's
``subscribe`` message; the caller's kind decides whether a document of its own is accepted
(``DOCUMENT_NOT_TRUSTED``). Who may introspect the schema is a setting (``INTROSPECTION_DISABLED``,
``gateway.schema.introspection``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyErrorMessage
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from gateway import gc_tuning, reads
from gateway.body_limit import BodyLimit, document_too_large
from gateway.cache_format import VALUE_FORMAT
from gateway.config import DEMO_JWT_HS256_SECRET, Settings
from gateway.context import Context
from gateway.core.outbox import Outbox
from gateway.core.pdfsign import court_seals_for
from gateway.demand.ratelimit import RateLimiter, build_rate_limiter, rate_limited
from gateway.errors import BAD_REQUEST, RequestRefused
from gateway.feeds.effects import FeedSync
from gateway.feeds.follower import ChangeFollower
from gateway.graphiql import assets as graphiql_assets
from gateway.graphiql import page as graphiql_page
from gateway.identity import AuthError, TokenVerifier, Viewer
from gateway.oauth.idp import relying_party
from gateway.oauth.routes import oauth_routes
from gateway.observability import metrics, record, tracing
from gateway.observability.exposition import metrics_endpoint
from gateway.observability.logging import configure_logging
from gateway.observability.middleware import RequestObservation
from gateway.observability.ops import ops_page
from gateway.origins import OriginsMiddleware
from gateway.persisted import APQStore, DocumentPolicy, PersistedDocuments, TrustedDocuments
from gateway.readiness import readiness
from gateway.resolvers.archive import DOWNLOAD_PATH as MATERIAL_DOWNLOAD_PATH
from gateway.resolvers.archive import material_download
from gateway.resolvers.documents import DOWNLOAD_PATH, certificate_download
from gateway.resolvers.firm import CALENDAR_PATH, calendar_download
from gateway.response_cache import ResponseCache
from gateway.schema import schema
from gateway.schema.limits import MAX_TOKENS
from gateway.security import check_production, document_policy
from gateway.services import Services, build_services, build_workers
from gateway.webclient import routes as web_client_routes
from gateway.webclient import uses_demo_identity_provider
from gateway.ws_guard import FORBIDDEN, Credentials, Watch, over_quota, unauthenticated

GRAPHQL_RESPONSE = "application/graphql-response+json"
GRAPHQL_PATH = "/graphql"
SUBSCRIPTION_OVER_HTTP = "SUBSCRIPTION_OVER_HTTP_UNSUPPORTED"
log = logging.getLogger("gateway")


def build_verifier(settings: Settings, grant_check: Callable[[str], Awaitable[bool]] | None = None) -> TokenVerifier:
    """HS256 with the demo key only in demo mode with no real identity provider: the demo key is public.
    The gateway's own authorisation server is trusted too (``gateway.oauth``), its grants checked."""
    demo_key = settings.jwt_hs256_secret == DEMO_JWT_HS256_SECRET
    hs256 = None if demo_key and not uses_demo_identity_provider(settings) else settings.jwt_hs256_secret or None
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
        max_lifetime_s=settings.jwt_max_lifetime_s,
        oauth_issuer=settings.oauth_issuer_url,
        oauth_secret=settings.oauth_token_secret,
        grant_check=grant_check,
    )


def build_documents(settings: Settings, services: Services) -> PersistedDocuments:
    """The manifests (read and verified now: a forged entry stops the start), APQ and the policy; a warning
    when first-party callers may run only trusted documents and no manifest was found."""
    trusted = TrustedDocuments.load(settings.trusted_documents_dir, settings.max_document_bytes)
    policy = document_policy(settings)
    if policy.first_party == "trusted" and not len(trusted):
        log.warning(
            "first-party callers may run only trusted documents, but %s holds no manifest: every request of "
            "the AOL frontend and the mini-program will be refused (DOCUMENT_NOT_TRUSTED); set "
            "GATEWAY_TRUSTED_DOCUMENTS_DIR to their manifests, or GATEWAY_FIRST_PARTY_DOCUMENTS=any",
            settings.trusted_documents_dir,
        )
    apq = APQStore(services.cache, settings.apq_ttl_s) if settings.apq else None
    return PersistedDocuments(trusted, apq, policy, settings.max_document_bytes, MAX_TOKENS)


class TextFrameWebSocket(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames; Strawberry would send our orjson bytes as binary ones,
    which browser clients (graphql-ws) cannot parse."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as e:
            raise WebSocketDisconnected from e


@dataclass
class NamedRequestData(GraphQLRequestData):
    """A request as Strawberry reads it, with the ``documentId`` it may name its document by."""

    document_id: object = None


def _refused_payload(refused: RequestRefused) -> list[dict[str, Any]]:
    """A refusal as the GraphQL errors of a WebSocket ``error`` message."""
    errors: list[dict[str, Any]] = orjson.loads(refused.body())["errors"]
    return errors


async def _resolved_payload(view: GraphQLApp, context: Context, payload: object) -> dict[str, Any] | RequestRefused:
    """A WebSocket operation's payload with its document resolved (``gateway.persisted``), or the refusal."""
    if not isinstance(payload, dict):
        return {}
    try:
        query = await view.documents.resolve(
            context.viewer, payload.get("query"), payload.get("documentId"), payload.get("extensions")
        )
    except RequestRefused as e:
        record.note_error(e.code)
        return e
    return payload if query is None else {**payload, "query": query}


class TransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with documents named by reference and the caller's document policy; its
    credentials held to account while it lives, a client's operations counted (``gateway.ws_guard``)."""

    view: GraphQLApp
    watch: Watch | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.watch is None:
            self.watch = self.view.watch(self.context, self.end)

    async def end(self, reason: str) -> None:
        """Credentials lapsed: an UNAUTHENTICATED ``error`` for each running operation, then close 4403."""
        tasks = [op.task for op in self.operations.values() if op.task is not None]
        for operation in list(self.operations.values()):
            with contextlib.suppress(Exception):
                await operation.send_operation_message(
                    ErrorMessage(id=operation.id, type="error", payload=unauthenticated(reason))  # type: ignore[typeddict-item]
                )
        with contextlib.suppress(Exception):
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
        for task in tasks:  # the current one too: it stops at its next await
            task.cancel()

    async def send_message(self, message: Message) -> None:
        """Each event is delivered only while the credentials stand."""
        if message.get("type") == "next" and self.watch is not None and not await self.watch.check():
            return
        await super().send_message(message)

    async def shutdown(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await super().shutdown()

    async def refuse(self, id: str, errors: list[dict[str, Any]]) -> None:
        await self.send_message(ErrorMessage(id=id, type="error", payload=errors))  # type: ignore[typeddict-item]

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message.get("id") not in self.operations:
            if self.watch is not None and not await self.watch.check():
                return  # the connection is ending
            quota = await over_quota(self.view.limiter, self.context.viewer)
            if quota is not None:
                await self.refuse(message["id"], quota)
                return
            payload = await _resolved_payload(self.view, self.context, message.get("payload"))
            if isinstance(payload, RequestRefused):
                refusal = ErrorMessage(id=message["id"], type="error", payload=_refused_payload(payload))  # type: ignore[typeddict-item]
                await self.send_message(refusal)
                return
            message = {**message, "payload": payload}  # type: ignore[typeddict-item]
        await super().handle_subscribe(message)


class LegacyWS(BaseGraphQLWSHandler[Context, None]):
    """The older graphql-ws protocol, held to the same document policy."""

    view: GraphQLApp

    watch: Watch | None = None

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.watch is None:
            self.watch = self.view.watch(self.context, self.end)

    async def end(self, reason: str) -> None:
        """Credentials lapsed: an UNAUTHENTICATED ``error`` for each running operation, then close 4403 (the
        operations are stopped as the connection is cleaned up)."""
        error: Any = unauthenticated(reason)[0]
        for id in list(self.tasks):
            with contextlib.suppress(Exception):
                await self.send_message(LegacyErrorMessage(type="error", id=id, payload=error))
        with contextlib.suppress(Exception):
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")

    async def send_message(self, message: OperationMessage) -> None:
        """Each event is delivered only while the credentials stand."""
        if message.get("type") == "data" and self.watch is not None and not await self.watch.check():
            return
        await super().send_message(message)

    async def cleanup(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await super().cleanup()

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            if self.watch is not None and not await self.watch.check():
                return
            quota = await over_quota(self.view.limiter, self.context.viewer)
            if quota is not None:
                await self.send_message(LegacyErrorMessage(type="error", id=message["id"], payload=quota[0]))  # type: ignore[typeddict-item]
                return
            payload = await _resolved_payload(self.view, self.context, message.get("payload"))
            if isinstance(payload, RequestRefused):
                error: Any = _refused_payload(payload)[0]
                await self.send_message(LegacyErrorMessage(type="error", id=message["id"], payload=error))
                return
            message = {**message, "payload": payload}  # type: ignore[typeddict-item]
        await super().handle_start(message)


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson encoding and media-type negotiation."""

    websocket_adapter_class = TextFrameWebSocket
    graphql_transport_ws_handler_class = TransportWS
    graphql_ws_handler_class = LegacyWS

    def __init__(
        self,
        services: Services,
        verifier: TokenVerifier,
        *,
        graphiql: bool,
        max_document_bytes: int,
        limiter: RateLimiter | None = None,
        allowed_origins: tuple[str, ...] = (),
        documents: PersistedDocuments | None = None,
        responses: ResponseCache | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            multipart_uploads_enabled=True,
            allowed_origins=allowed_origins,  # WebSocket upgrades from other pages (gateway.origins)
        )
        self.services = services
        self.verifier = verifier
        self.limiter = limiter
        self.responses = responses
        self.max_document_bytes = max_document_bytes
        #: how documents named by reference are found, and whose own documents are accepted
        self.documents = documents or PersistedDocuments(
            TrustedDocuments(), APQStore(None, 1.0), DocumentPolicy(), max_document_bytes, MAX_TOKENS
        )

    def watch(self, context: Context, on_lapse: Callable[[str], Awaitable[None]]) -> Watch | None:
        """A newly acknowledged connection's credentials watched while it lives (none for an anonymous one)."""
        if context.viewer is None:
            return None
        period = self.services.settings.oauth_grant_check_s
        watch = Watch(Credentials(self.verifier, context.viewer, period_s=period), on_lapse)
        watch.start()
        return watch

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Strawberry's test (a GET without ``query`` that accepts HTML or ``*/*``), but a GET that names its
        document (``documentId``, ``extensions``: APQ from a browser's ``fetch``, which accepts ``*/*``) is a
        request, not a page."""
        named = request.query_params.get("documentId") or request.query_params.get("extensions")
        return not named and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: assets served here (works offline), a token field that also reaches subscriptions."""
        return graphiql_page()

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """HTTP requests are counted against their principal before the body is read: over the limit, 429;
        otherwise the answer carries the RateLimit header fields. (A WebSocket's operations are counted as they
        start: ``gateway.ws_guard``.)"""
        if not isinstance(request, Request) or context is not UNSET:
            return await super().run(request, context, root_value)
        context = await self.get_context(request)
        decision = None
        if self.limiter is not None:
            decision = await self.limiter.check(context.viewer, request.client.host if request.client else "")
        if decision is not None:
            if not decision.allowed:
                return rate_limited(decision)
            context.quota = decision  # what `viewer { client { quota } }` reports
        response = await self._answer(request, context, root_value)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    async def _answer(self, request: Request, context: Context, root_value: Any) -> Response:
        """A replayed answer when the response cache has one for this request, else the executed one,
        kept when it may be (``gateway.response_cache``). The body is within its limit by now; a document
        named by reference is resolved first, so the caller's document policy holds for a replay too."""
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if self.responses is None or request.method != "POST" or content_type != "application/json":
            return await super().run(request, context, root_value)
        viewer = context.viewer
        asked = self.responses.asked(viewer, await request.body())
        if viewer is None or asked is None:
            return await super().run(request, context, root_value)
        query = await self.documents.resolve(viewer, asked.query, asked.document_id, asked.extensions)
        if query is None:
            return await super().run(request, context, root_value)
        ask = self.responses.ask(viewer, query, asked)
        body = await self.responses.replay(ask)
        if body is not None:
            name = metrics.operation_label(ask.operation_name)
            metrics.GRAPHQL_OPERATIONS.labels(name, "query", "ok").inc()  # answered, though not executed
            current = record.current()
            if current is not None:
                current.operation, current.operation_type, current.outcome = name, "query", "ok"
            accept = request.headers.get("accept", "")
            return Response(body, media_type=GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json")
        drew, token = reads.begin()
        try:
            response: Response = await super().run(request, context, root_value)
        finally:
            reads.end(token)
        body = getattr(response, "body", None)  # a streamed (incremental) answer has none: never kept
        if isinstance(body, bytes):
            await self.responses.keep(ask, drew, response.status_code, body)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as e:
            response = _refusal_response(RequestRefused.from_http(e))
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's, but only one operation per request, and a JSON body must be an object (Strawberry
        fails on a bare value such as ``"hello"``). The body is at most ``max_document_bytes`` by now
        (``BodyLimit``), so reading it twice costs little."""
        content_type, _ = parse_content_type(request.content_type or "")
        document_id: object = None
        if request.method == "POST" and "application/json" in content_type:
            data = self.parse_json(await request.get_body())
            _check_operation(data)
            document_id = data.get("documentId")
        elif request.method == "GET":
            document_id = request.query_params.get("documentId")
        parsed = await super().parse_http_body(request)
        if document_id is None or not isinstance(parsed, GraphQLRequestData):
            return parsed
        return NamedRequestData(
            parsed.query, parsed.variables, parsed.operation_name, parsed.extensions, parsed.protocol, document_id
        )

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        """Strawberry's, with the document's ceiling on the ``operations`` and ``map`` parts (files keep the
        upload ceiling) and typed refusals for a form that does not parse."""
        try:
            form = (await request.get_form_data()).form
        except StarletteHTTPException as e:  # Starlette's own limits on parts, files and fields
            raise RequestRefused(400, BAD_REQUEST, str(e.detail)) from None
        for part in ("operations", "map"):
            value = form.get(part)
            if isinstance(value, str | bytes) and len(value) > self.max_document_bytes:
                code, message = document_too_large(self.max_document_bytes)
                raise RequestRefused(413, code, message, maxBytes=self.max_document_bytes)
        operations = form.get("operations")
        if isinstance(operations, str | bytes):
            _check_operation(self.parse_json(operations))
        if not isinstance(self.parse_json(form.get("map") or "{}"), dict):
            raise RequestRefused(400, BAD_REQUEST, "the multipart `map` must be a JSON object")
        return await super().parse_multipart(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, but a subscription is refused (typed, no traceback): they are served on the
        WebSocket, and Strawberry would run one over HTTP and fail it as an unexpected error."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        query = await self.documents.resolve(
            context.viewer,
            request_data.query,
            getattr(request_data, "document_id", None),
            request_data.extensions,
        )
        try:
            return await self.schema.execute(
                query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as e:
            if e.operation_type is OperationType.SUBSCRIPTION:
                raise RequestRefused(
                    400,
                    SUBSCRIPTION_OVER_HTTP,
                    f"subscriptions are served over a WebSocket at {GRAPHQL_PATH} (graphql-transport-ws), "
                    "not over HTTP",
                ) from None
            raise RequestRefused(400, BAD_REQUEST, e.as_http_error_reason(request_adapter.method)) from None
        except CannotGetOperationTypeError as e:
            raise RequestRefused(400, BAD_REQUEST, e.as_http_error_reason()) from None
        except MissingQueryError:
            raise RequestRefused(400, BAD_REQUEST, "no GraphQL query found in the request") from None

    async def get_context(self, request: Any, response: Any = None) -> Context:
        viewer, error = await self._authenticate(request.headers.get("authorization", ""))
        record.note_principal(viewer.subject if viewer is not None else None)
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


def _check_operation(data: object) -> None:
    """A request body is one operation: a JSON object (a list would be a batch, which is not accepted)."""
    if isinstance(data, list):
        raise RequestRefused(400, BAD_REQUEST, "batched operations are not accepted: send one per request")
    if not isinstance(data, dict):
        raise RequestRefused(400, BAD_REQUEST, "the request body must be a JSON object with a `query`")


def _refusal_response(refused: RequestRefused) -> Response:
    """A refusal before any GraphQL ran, as a GraphQL error body; a client error, logged as one line."""
    log.info("refused %s (HTTP %d): %.200s", refused.code, refused.status_code, refused.reason)
    record.note_error(refused.code)
    return Response(refused.body(), status_code=refused.status_code, media_type="application/json")


def _never_executed(response: GraphQLHTTPResponse) -> bool:
    """Parse and validation errors carry no path; execution errors always do."""
    errors: list[dict[str, Any]] = list(response.get("errors") or [])  # type: ignore[arg-type]
    return response.get("data") is None and bool(errors) and all(not e.get("path") for e in errors)


def build_response_cache(settings: Settings, services: Services) -> ResponseCache | None:
    """The response cache, or None when it is off. Its version changes with the schema, the model and the
    settings that shape an answer (the cost budget, the courts): no replica replays an answer another
    configuration would not give. (The document policy needs no part: it is applied before every replay.)"""
    ttl = min(settings.response_cache_ttl_s, settings.cache_ttl_s)
    if not settings.response_cache or ttl <= 0:
        return None
    shaping = [
        str(schema),
        settings.cost_budget,
        settings.cost_assumed_list_size,
        sorted(a.court.code for a in services.registry),
    ]
    version = f"{VALUE_FORMAT}.{hashlib.sha256(repr(shaping).encode()).hexdigest()[:12]}"
    return ResponseCache(services.cache, ttl, version)


def create_app(settings: Settings | None = None, *, graphiql: bool | None = None) -> Starlette:
    settings = settings or Settings()
    check_production(settings)  # before anything is built: production never runs on a public secret
    configure_logging(settings.log_level)
    tracing.setup_tracing(settings)  # before any HTTP session exists: the aiohttp instrumentation wraps them
    services = build_services(settings)
    build_workers(services)
    limiter = build_rate_limiter(
        settings.cache_url, settings.rate_limit_per_s, settings.rate_limit_burst, client_quota=services.oauth.quota
    )
    verifier = build_verifier(settings, services.oauth.grant_check)
    graphql = GraphQLApp(
        services,
        verifier,
        graphiql=settings.graphiql if graphiql is None else graphiql,
        limiter=limiter,
        max_document_bytes=settings.max_document_bytes,
        allowed_origins=settings.browser_origins,
        documents=build_documents(settings, services),
        responses=build_response_cache(settings, services),
    )
    graphiql_routes = [graphiql_assets()] if graphql.graphql_ide else []
    court_seals_for(settings)  # seal certificates read now: a bad one fails at start, the demo chain warned of

    follower = ChangeFollower(
        services.registry,
        services.cache,
        interval_s=settings.change_poll_s,
        store=services.store,
        sync=FeedSync({c.code: c for c in settings.courts}, clock=services.now),
    )

    store = services.store
    metrics_scrape = metrics_endpoint(
        token=settings.metrics_token,
        authenticate=graphql._authenticate,
        registry=services.registry,
        cache=services.cache,
        outboxes=lambda: [w for w in services.workers.workers if isinstance(w, Outbox)],
        follower=follower,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.change_poll_s > 0:
            follower.start()
        services.workers.start()
        if settings.gc_tuned:
            gc_tuning.tune()
        try:
            yield
        finally:
            await services.workers.stop()
            await follower.stop()
            await services.registry.aclose()
            await services.cache.close()
            if limiter is not None:
                await limiter.close()
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
            Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"]),
            # subscriptions: the same view speaks graphql-transport-ws on a WebSocket at the same path
            WebSocketRoute(GRAPHQL_PATH, graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_scrape),
            Route(
                "/ops", ops_page(services, follower, token=settings.metrics_token, authenticate=graphql._authenticate)
            ),
            # 电子送达凭证: the PDF behind a short-lived signed link issued by `serviceCertificate`
            Route(DOWNLOAD_PATH + "{token}", certificate_download(services)),
            # 电子阅卷: a case-file material, watermarked and sealed, behind a link issued by `downloadMaterial`
            Route(MATERIAL_DOWNLOAD_PATH + "{token}", material_download(services)),
            # calendar feeds (RFC 5545) at a secret, rotatable URL issued by `rotateCalendarFeed`
            Route(CALENDAR_PATH + "{file}", calendar_download(services.calendar, limiter)),
            *graphiql_routes,
            # the reference web client under /app/ and the demo sign-in it uses (demo mode only)
            *web_client_routes(settings),
            # the authorisation server for firms' software (issue 14)
            *oauth_routes(services.oauth, verifier, demo=settings.mode == "demo", idp=relying_party(settings)),
        ],
        lifespan=lifespan,
        middleware=[
            # outermost: refusals below (body limit, rate limit) reach the page with their CORS headers
            Middleware(OriginsMiddleware, origins=settings.browser_origins, max_age_s=settings.cors_max_age_s),
            Middleware(BodyLimit, max_bytes=settings.max_request_bytes, max_document_bytes=settings.max_document_bytes),
        ],
    )
    # observability outermost: the request id and access line cover every answer, the trace everything
    app.add_middleware(RequestObservation, hash_key=settings.log_hash_key)
    tracing.instrument(app, store.engine, secret_paths=(DOWNLOAD_PATH, MATERIAL_DOWNLOAD_PATH, CALENDAR_PATH))
    app.state.services = services
    app.state.store = store
    app.state.changes = follower
    app.state.limiter = limiter
    app.state.responses = graphql.responses
    return app
