"""The authorisation server's HTTP endpoints (mounted by ``gateway.app``).

``/oauth/authorize`` (GET: the client's request is checked, then the sign-in page; POST ``step=sign-in``:
the court identity provider's token is verified and the consent page shown; POST ``step=consent``: the
person's decision, redirected to the client with a code or ``access_denied``), ``/oauth/token``,
``/oauth/revoke`` (RFC 7009), ``/oauth/introspect`` (RFC 7662) and
``/.well-known/oauth-authorization-server`` (RFC 8414).

CSRF: the consent form carries a ticket the gateway signed (the person's verified claims, a hash of this
very authorisation request, ten minutes) and a random value that must equal the ``SameSite=Strict``
cookie set with the page, so no other site can submit a consent in the person's name. Only a person's
own first-party sign-in token opens the consent page: a client's token cannot authorise another client,
and staff accounts do not authorise firms' software.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.identity import AuthError, Role, TokenVerifier
from gateway.oauth import pages
from gateway.oauth.redirects import redirect_problem
from gateway.oauth.server import SCOPES, FormRequest, GatewayServer
from gateway.oauth.service import OAuthService
from gateway.oauth.store import Person, person_claims

log = logging.getLogger("gateway.oauth")
CSRF_COOKIE = "cg_oauth_csrf"
TICKET_TTL_S = 600
#: the most form bytes an OAuth endpoint reads (a sign-in token is well under 8 KB)
MAX_FORM_BYTES = 16 * 1024
PATHS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/oauth/token",
    "revocation_endpoint": "/oauth/revoke",
    "introspection_endpoint": "/oauth/introspect",
}
METADATA_PATH = "/.well-known/oauth-authorization-server"


def metadata(issuer: str) -> dict[str, Any]:
    """The RFC 8414 document: where everything is and what this server supports."""
    methods = ["client_secret_basic", "client_secret_post", "none"]
    return {
        "issuer": issuer,
        **{name: issuer + path for name, path in PATHS.items()},
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }


async def _read(request: Request, server: GatewayServer) -> FormRequest:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ValueError("form too large")
        form = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    # the issuer's own scheme and host: behind a TLS proxy request.url may say http
    uri = server.policy.issuer + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return FormRequest(request.method, uri, request.headers, list(request.query_params.multi_items()), form)


def _response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = result
    location = dict(headers).get("Location")
    if status == 302 and location:
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    sent = {k: v for k, v in headers if k.lower() != "content-type"}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **sent})


def oauth_routes(oauth: OAuthService, verifier: TokenVerifier, *, demo: bool) -> list[Route]:
    server = oauth.server
    policy = server.policy

    def ticket_for(claims: dict[str, Any], request_query: str, csrf: str) -> str:
        payload = {
            "typ": "consent",
            "iss": policy.issuer,
            "exp": int(time.time()) + TICKET_TTL_S,
            "person": claims,
            "req": hashlib.sha256(request_query.encode()).hexdigest(),
            "csrf": hashlib.sha256(csrf.encode()).hexdigest(),
        }
        return jwt.encode(payload, policy.secret, algorithm="HS256")

    def ticket_claims(ticket: str, request_query: str, csrf_form: str, csrf_cookie: str) -> dict[str, Any] | None:
        try:
            payload = jwt.decode(ticket, policy.secret, algorithms=["HS256"], issuer=policy.issuer)
        except jwt.PyJWTError:
            return None
        same_request = (
            payload.get("typ") == "consent" and payload.get("req") == hashlib.sha256(request_query.encode()).hexdigest()
        )
        same_browser = bool(csrf_cookie) and hmac.compare_digest(csrf_form, csrf_cookie)
        bound = hmac.compare_digest(str(payload.get("csrf")), hashlib.sha256(csrf_cookie.encode()).hexdigest())
        return payload["person"] if same_request and same_browser and bound else None

    async def authorize(request: Request) -> Response:
        try:
            oauth_request = await _read(request, server)
        except ValueError:
            return pages.failure("the request is too large", 413)
        try:
            grant = await server.call(server.get_consent_grant, oauth_request, None)
        except OAuth2Error as error:
            if error.redirect_uri:
                return _response(server.handle_error_response(oauth_request, error))
            return pages.failure(f"{error.error}: {error.description or 'the client request is not valid'}")
        client, scope = grant.request.client, grant.request.scope or ""
        redirect = oauth_request.payload.redirect_uri or client.get_default_redirect_uri() or ""
        if not demo and redirect_problem(redirect, production=True):  # registered before production mode
            return pages.failure("this app's redirect URI is not https: the court must register it again")
        action = PATHS["authorization_endpoint"] + (f"?{request.url.query}" if request.url.query else "")
        form = oauth_request.form
        if request.method == "GET":
            return pages.sign_in(action, client.name, scope, demo=demo)
        if form.get("step") == "sign-in":
            try:
                viewer = await verifier.verify(form.get("id_token", "").strip())
            except AuthError as e:
                return pages.sign_in(action, client.name, scope, error=f"sign-in failed: {e}", demo=demo)
            if viewer.client_id is not None or viewer.scopes is not None:
                return pages.sign_in(
                    action, client.name, scope, error="sign in with your own court token, not an app's", demo=demo
                )
            if not viewer.roles & {Role.LAWYER, Role.PARTY} or viewer.is_staff:
                return pages.failure("only lawyers and parties authorise firms' software", 403)
            csrf = secrets.token_urlsafe(24)
            ticket = ticket_for(person_claims(viewer.claims), request.url.query, csrf)
            response = pages.consent(action, client.name, scope, viewer.name, ticket, csrf)
            secure = policy.issuer.startswith("https://")
            response.set_cookie(
                CSRF_COOKIE, csrf, max_age=TICKET_TTL_S, httponly=True, samesite="strict", secure=secure, path="/oauth/"
            )
            return response
        if form.get("step") == "consent":
            claims = ticket_claims(
                form.get("ticket", ""), request.url.query, form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
            )
            if claims is None:
                return pages.failure("this consent form has expired or did not come from this page: start again", 403)
            person = Person(claims) if form.get("decision") == "allow" else None
            log.info(
                "oauth consent %s by %s for client %s",
                "given" if person else "refused",
                claims.get("sub"),
                client.client_id,
            )
            result = await server.call(server.create_authorization_response, oauth_request, person, grant)
            decided = _response(result)
            decided.delete_cookie(CSRF_COOKIE, path="/oauth/")
            return decided
        return pages.failure("unknown step")

    async def token(request: Request) -> Response:
        try:
            oauth_request = await _read(request, server)
        except ValueError:
            return JSONResponse({"error": "invalid_request"}, status_code=413)
        return _response(await server.call(server.create_token_response, oauth_request))

    def endpoint(name: str) -> Any:
        async def handle(request: Request) -> Response:
            try:
                oauth_request = await _read(request, server)
            except ValueError:
                return JSONResponse({"error": "invalid_request"}, status_code=413)
            return _response(await server.call(server.create_endpoint_response, name, oauth_request))

        return handle

    async def well_known(request: Request) -> Response:
        return JSONResponse(metadata(policy.issuer), headers={"Cache-Control": "max-age=300"})

    return [
        Route(PATHS["authorization_endpoint"], authorize, methods=["GET", "POST"]),
        Route(PATHS["token_endpoint"], token, methods=["POST"]),
        Route(PATHS["revocation_endpoint"], endpoint("revocation"), methods=["POST"]),
        Route(PATHS["introspection_endpoint"], endpoint("introspection"), methods=["POST"]),
        Route(METADATA_PATH, well_known, methods=["GET"]),
    ]
