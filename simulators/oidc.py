"""The demo identity provider as an OpenID Connect provider, so the gateway's sign-in handshake
(``gateway.oauth.idp``) runs for real on loopback.

Built on Authlib's server classes (``AuthorizationServer``, ``AuthorizationCodeGrant``, the PKCE
``CodeChallenge`` extension, required, S256 only, and ``OpenIDCode``, nonce required), in memory: one
registered client (the gateway), codes that live ``CODE_TTL_S`` and are used once. Endpoints: discovery
(``/.well-known/openid-configuration``), the key set (``/jwks``), the authorization endpoint (a plain HTML
page listing the demo logins; picking one signs that person in, no password: it is the demo) and the token
endpoint (``client_secret_basic`` or ``client_secret_post``), whose answer carries an RS256 ID token with
the same claims the demo's HS256 tokens carry (``simulators.identities.demo_claims``). The RSA key is
generated when the provider is built: a restarted demo provider signs with a new ``kid`` and relying
parties refetch its key set.

Never for production: anyone who reaches the page signs in as anyone.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.oauth.routes import read_form
from simulators.generator import World
from simulators.identities import demo_claims, demo_logins

#: the gateway's registration at the demo provider (its secret is public: the demo's)
DEMO_CLIENT_ID = "court-gateway"
DEMO_CLIENT_SECRET = "court-gateway-demo-idp-client-secret"
CODE_TTL_S = 60
ID_TOKEN_TTL_S = 600
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class DemoClient(ClientMixin):
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in {"openid", "profile", "phone"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret.encode(), self.secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class DemoCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    login: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float = field(default_factory=lambda: time.time() + CODE_TTL_S)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.expires_at - CODE_TTL_S)

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


class DemoProvider(AuthorizationServer):
    """Authlib's authorization server with the demo's logins, one client and codes in memory."""

    def __init__(self, issuer: str, client: DemoClient, claims_of: Any) -> None:
        super().__init__(scopes_supported=["openid", "profile", "phone"])
        self.issuer = issuer.rstrip("/")
        self.client = client
        self.claims_of = claims_of
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"}, private=True)
        self.codes: dict[str, DemoCode] = {}
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [CodeChallenge(required=True), DemoOpenIDCode(self)])

    def query_client(self, client_id: str) -> DemoClient | None:
        return self.client if client_id == self.client.client_id else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        location = dict(headers).get("Location")
        if status == 302 and location:
            return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hooks: nothing to do."""

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """The access token opens nothing here (no userinfo endpoint): the ID token carries the claims."""

    def _generate_token(self, grant_type: str, client: DemoClient, user: Any = None, **kwargs: Any) -> dict[str, Any]:
        scope = kwargs.get("scope") or ""
        return {"token_type": "Bearer", "access_token": secrets.token_urlsafe(32), "expires_in": 600, "scope": scope}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
        }


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.codes[code] = DemoCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope or "",
            nonce=data.get("nonce"),
            login=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: DemoClient) -> DemoCode | None:
        found = self.server.codes.get(code)
        if found and found.client_id == client.get_client_id() and found.expires_at > time.time():
            return found
        return None

    def delete_authorization_code(self, authorization_code: DemoCode) -> None:
        self.server.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: DemoCode) -> str:
        return authorization_code.login


class DemoOpenIDCode(OpenIDCode):
    def __init__(self, provider: DemoProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client: DemoClient) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: DemoClient) -> str:
        return "RS256"

    def get_encode_header(self, client: DemoClient) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.provider.key.kid)}

    def get_client_claims(self, client: DemoClient) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()], "iat": now, "exp": now + ID_TOKEN_TTL_S}

    def generate_user_info(self, user: str, scope: str) -> dict[str, Any]:
        return dict(self.provider.claims_of(user))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>body{font-family:sans-serif;max-width:36em;margin:2em auto}button{margin:.2em}</style>"
        f"</head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def demo_oidc_app(world: World, seed_file: Path, issuer: str, redirect_uris: list[str]) -> Starlette:
    """The demo provider's HTTP app, its issuer ``issuer`` (where it is served), the gateway its client."""
    logins = demo_logins(world, seed_file)
    provider = DemoProvider(
        issuer,
        DemoClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, tuple(redirect_uris)),
        lambda login: demo_claims(world, seed_file, login),
    )

    async def discovery(request: Request) -> Response:
        return JSONResponse(provider.metadata(), headers={"Cache-Control": "max-age=300"})

    async def jwks(request: Request) -> Response:
        return JSONResponse({"keys": [provider.key.as_dict(private=False)]}, headers={"Cache-Control": "max-age=300"})

    async def authorize(request: Request) -> Response:
        try:
            oauth_request = await read_form(request, provider.issuer)
        except ValueError:
            return _page("Cannot sign in", "<p>the request is too large</p>", 413)
        try:
            grant = provider.get_consent_grant(oauth_request, None)
        except OAuth2Error as error:
            if error.redirect_uri:
                return provider.handle_error_response(oauth_request, error)
            return _page("Cannot sign in", f"<p>{escape(error.error)}</p>", 400)
        if request.method == "GET":
            buttons = "".join(
                f'<button type="submit" name="login" value="{escape(login)}">{escape(login)}</button>'
                for login in logins
            )
            return _page(
                "演示身份认证 · Demo identity provider",
                "<p>Pick the demo person to sign in as (no password: this is the demo).</p>"
                f'<form method="post" action="{escape(request.url.path + "?" + request.url.query)}">{buttons}'
                '<p><button type="submit" name="login" value="">Cancel</button></p></form>',
            )
        login = oauth_request.form.get("login", "")
        user = login if login in logins else None  # Cancel (or an unknown login): access_denied
        return provider.create_authorization_response(oauth_request, user, grant)

    async def token(request: Request) -> Response:
        try:
            oauth_request = await read_form(request, provider.issuer)
        except ValueError:
            return JSONResponse({"error": "invalid_request"}, status_code=413)
        return provider.create_token_response(oauth_request)

    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
        ]
    )
    app.state.provider = provider
    return app
