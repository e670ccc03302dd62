"""Authlib's authorisation server, wired to ``gateway.oauth.store``.

Authlib's server classes are synchronous; the store is async. Each OAuth request therefore runs Authlib
in a worker thread while its storage calls run as coroutines on the event loop (``_run``): Authlib's
validation logic stays Authlib's, the database work stays on the loop's engine. The threads are the
server's own pool (``THREADS``), not the loop's default executor, which the loop itself needs (DNS look-ups
of a database host): a burst of OAuth requests waits for a thread, it never starves the loop's own work.

Policy on top of Authlib's defaults: authorization code with PKCE only, ``S256`` only, for confidential
and public clients alike (OAuth 2.1); exact redirect URIs; refresh tokens rotated at every use, a used one
presented again revokes its grant; a revoked client's tokens are refused (its rows stay, for the audit).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from gateway.identity import Scope
from gateway.oauth import store
from gateway.oauth.tokens import GrantCheck, mint_access_token, read_access_token
from gateway.store.db import Store

T = TypeVar("T")
#: OAuth requests handled at once per process (each holds a thread while its storage calls run)
THREADS = 8
#: the extra scopes a client may also be registered for beyond ``Scope``: none for now
SCOPES = tuple(s.value for s in Scope)


@dataclass(frozen=True)
class Policy:
    issuer: str
    secret: str
    audience: str | None
    access_ttl_s: int
    refresh_ttl_s: int
    code_ttl_s: int


class FormPayload(OAuth2Payload):
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = {}
        for key, value in values:
            self._datalist.setdefault(key, []).append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    """An HTTP request already read by the async route: its query and form fields."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._query = dict(query)
        self._form = dict(form)
        self._form_list = form
        self.payload = FormPayload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form

    def form_values(self, name: str) -> list[str]:
        """Every value the form (not the query) gave ``name``: a checkbox list."""
        return [value for key, value in self._form_list if key == name]


@dataclass(frozen=True)
class IssuedToken:
    """An access or refresh token presented to the revocation or introspection endpoint."""

    kind: str
    grant: store.Grant
    expires_at: float
    active: bool
    claims: dict[str, Any]

    def check_client(self, client: store.Client) -> bool:
        return self.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.grant.scope

    def get_expires_in(self) -> int:
        return max(int(self.expires_at - datetime.now().timestamp()), 0)

    def is_expired(self) -> bool:
        return not self.active

    def is_revoked(self) -> bool:
        return self.grant.revoked_at is not None

    def get_user(self) -> store.Person:
        return store.Person(self.grant.claims, self.grant.id)

    def get_client_id(self) -> str:
        return self.grant.client_id


class GatewayServer(AuthorizationServer):
    """The authorisation server: Authlib's, with storage on the gateway's database."""

    def __init__(self, db: Store, policy: Policy, grant_check: GrantCheck, clock: Callable[[], datetime]) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.db = db
        self.policy = policy
        self.grant_check = grant_check
        self.clock = clock
        self.loop: asyncio.AbstractEventLoop | None = None
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="oauth")
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256Only(required=True)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # -- the bridge: Authlib in a thread, storage on the loop -------------------------------------------

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        self.loop = asyncio.get_running_loop()
        return await self.loop.run_in_executor(self._threads, method, *args)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    # -- AuthorizationServer ------------------------------------------------------------------------------

    def query_client(self, client_id: str) -> store.Client | None:
        return self._run(store.get_client(self.db, client_id)) if client_id else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # already a FormRequest: the route read it

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hooks (after_authenticate_client, after_revoke_token): nothing to do."""

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        person: store.Person = request.user
        assert person.grant_id is not None
        refresh = token.get("refresh_token")
        if refresh:
            self._run(
                store.save_refresh_token(
                    self.db, refresh, person.grant_id, now=self.clock(), ttl_s=self.policy.refresh_ttl_s
                )
            )

    def _generate_token(
        self,
        grant_type: str,
        client: store.Client,
        user: store.Person | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert user is not None and user.grant_id is not None
        ttl = expires_in or self.policy.access_ttl_s
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": mint_access_token(
                user.claims,
                issuer=self.policy.issuer,
                secret=self.policy.secret,
                client_id=client.client_id,
                scope=scope or "",
                grant_id=user.grant_id,
                ttl_s=ttl,
                audience=self.policy.audience,
            ),
            "expires_in": ttl,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def find_token(self, token: str, hint: str | None) -> IssuedToken | None:
        """An access token (ours, valid) or a refresh token (stored) of a known grant."""
        if hint != "refresh_token":
            claims = read_access_token(
                token, issuer=self.policy.issuer, secret=self.policy.secret, audience=self.policy.audience
            )
            if claims is not None:
                grant = self._run(store.get_grant(self.db, str(claims["gid"])))
                live = grant is not None and self._run(store.grant_is_live(self.db, grant.id))
                return None if grant is None else IssuedToken("access_token", grant, float(claims["exp"]), live, claims)
        found = self._run(store.find_refresh_token(self.db, token))
        if found is None:
            return None
        grant, expires_at, used = found
        live = not used and expires_at > self.clock() and self._run(store.grant_is_live(self.db, grant.id))
        return IssuedToken("refresh_token", grant, expires_at.timestamp(), live, {})

    def revoke(self, grant_id: str, by: str) -> None:
        self._run(store.revoke_grant(self.db, grant_id, by, now=self.clock()))
        self.grant_check.forget(grant_id)


class S256Only(CodeChallenge):
    """PKCE required of every client, S256 only (plain is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib reads it from the class)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    server: GatewayServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        server = self.server
        server._run(
            store.save_code(
                server.db,
                code,
                request.client.client_id,
                request.user,
                request,
                now=server.clock(),
                ttl_s=server.policy.code_ttl_s,
            )
        )

    def query_authorization_code(self, code: str, client: store.Client) -> store.Code | None:
        return self.server._run(store.redeem_code(self.server.db, code, client.client_id, now=self.server.clock()))

    def delete_authorization_code(self, authorization_code: store.Code) -> None:
        """Nothing: ``redeem_code`` marked it used (kept, to detect its reuse)."""

    def authenticate_user(self, authorization_code: store.Code) -> store.Person:
        grant_id = self.server._run(store.open_grant(self.server.db, authorization_code, now=self.server.clock()))
        return store.Person(authorization_code.claims, grant_id)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: GatewayServer

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        client = self.request.client
        grant = self.server._run(
            store.redeem_refresh_token(self.server.db, refresh_token, client.client_id, now=self.server.clock())
        )
        if grant is None:
            self.server.grant_check.forget()  # a reuse may just have revoked a grant: look again
            return None
        return IssuedToken("refresh_token", grant, 0.0, True, {})

    def authenticate_user(self, refresh_token: IssuedToken) -> store.Person:
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        """Nothing: ``redeem_refresh_token`` marked it used (kept, to detect its reuse)."""


class Revocation(RevocationEndpoint):
    """RFC 7009: a client revokes its token; either kind revokes the whole grant (§2.1 allows it)."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    server: GatewayServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        self.server.revoke(token.grant.id, store.BY_CLIENT)


class Introspection(IntrospectionEndpoint):
    """RFC 7662: a client may introspect its own tokens; a court resource server (``may_introspect``) any."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012
    server: GatewayServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client: store.Client, request: OAuth2Request) -> bool:
        return client.may_introspect or token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        return {
            "active": True,
            "client_id": token.grant.client_id,
            "scope": token.grant.scope,
            "sub": token.grant.subject,
            "token_type": token.kind,
            "exp": int(token.expires_at),
            "iss": self.server.policy.issuer,
            "gid": token.grant.id,
        }
