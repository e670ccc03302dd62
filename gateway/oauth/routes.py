"""The authorisation server's HTTP endpoints (mounted by ``gateway.app``).

``/oauth/authorize`` (GET: the client's request is checked, then the person signs in: through the court
identity provider's OpenID Connect handshake when ``GATEWAY_IDP_ISSUER`` is set (``gateway.oauth.idp``:
a redirect there, back to ``/oauth/idp/callback``, then again to this very request, now with the consent
page), else, in demo mode only, on a page taking a pasted court token (POST ``step=sign-in``); POST
``step=consent``: the person's decision and the requested scopes they kept ticked (``kept_scope``; none
kept is a denial), redirected to the client with a code for those or ``access_denied``),
``/oauth/idp/callback``, ``/oauth/token``,
``/oauth/revoke`` (RFC 7009), ``/oauth/introspect`` (RFC 7662) and
``/.well-known/oauth-authorization-server`` (RFC 8414).

CSRF: the consent form carries a ticket the gateway signed (the person's verified claims, a hash of this
very authorisation request, ten minutes) and a random value that must equal the ``SameSite=Strict``
cookie set with the page, so no other site can submit a consent in the person's name. The handshake with
the identity provider is held in two short-lived (ten minutes) HttpOnly, ``SameSite=Lax`` cookies the
gateway signed (HS256 with the OAuth token secret, path ``/oauth/``): while it runs, ``state``, ``nonce``,
the PKCE verifier and the pending authorisation request (the callback refuses a ``state`` that is not the
cookie's: login CSRF); once the ID token is validated, the person's claims and a hash of that request, so
the sign-in serves this request only. Lax, not Strict: the browser comes back from the provider's site
by a top-level navigation, which must carry them. Only a person's
own first-party sign-in token opens the consent page: a client's token cannot authorise another client,
and staff accounts do not authorise firms' software.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any, Literal
from urllib.parse import parse_qsl

import jwt
from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.identity import AuthError, Role, TokenVerifier, Viewer, viewer_from_claims
from gateway.oauth import pages
from gateway.oauth.idp import CALLBACK_PATH, RelyingParty, SignInFailed
from gateway.oauth.redirects import redirect_problem
from gateway.oauth.server import SCOPES, FormRequest
from gateway.oauth.service import OAuthService
from gateway.oauth.store import Person, person_claims

log = logging.getLogger("gateway.oauth")
CSRF_COOKIE = "cg_oauth_csrf"
#: the handshake with the identity provider under way, then the person it signed in (module docstring)
HANDSHAKE_COOKIE = "cg_oauth_idp"
SIGNIN_COOKIE = "cg_oauth_signin"
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


async def read_form(request: Request, issuer: str) -> FormRequest:
    """An OAuth request read whole (at most ``MAX_FORM_BYTES``, else ValueError), its URI on ``issuer``."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ValueError("form too large")
        form = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    # the issuer's own scheme and host: behind a TLS proxy request.url may say http
    uri = issuer + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return FormRequest(request.method, uri, request.headers, list(request.query_params.multi_items()), form)


def _response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = result
    location = dict(headers).get("Location")
    if status == 302 and location:
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    sent = {k: v for k, v in headers if k.lower() != "content-type"}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **sent})


def admission_problem(viewer: Viewer) -> tuple[str, int] | None:
    """Why this signed-in person may not authorise a firm's software (None: they may)."""
    if viewer.client_id is not None or viewer.scopes is not None:
        return "sign in with your own court token, not an app's", 401
    if not viewer.roles & {Role.LAWYER, Role.PARTY} or viewer.is_staff:
        return "only lawyers and parties authorise firms' software", 403
    return None


def kept_scope(request: FormRequest, requested: str) -> str:
    """What the person kept of the requested scopes: the ticked boxes (``pages.KEEP_FIELD``) among those
    requested, in the request's order; all of them when the form did not offer the choice (a scripted
    consent). Empty: nothing kept, which is a denial."""
    offered = requested.split()
    if not request.form.get(pages.CHOICE_FIELD):
        return requested
    ticked = set(request.form_values(pages.KEEP_FIELD))
    return " ".join(s for s in offered if s in ticked)


def oauth_routes(
    oauth: OAuthService, verifier: TokenVerifier, *, demo: bool, idp: RelyingParty | None = None
) -> list[Route]:
    server = oauth.server
    policy = server.policy
    secure = policy.issuer.startswith("https://")

    def request_hash(request_query: str) -> str:
        return hashlib.sha256(request_query.encode()).hexdigest()

    def sign(payload: dict[str, Any]) -> str:
        return jwt.encode(
            {**payload, "iss": policy.issuer, "exp": int(time.time()) + TICKET_TTL_S}, policy.secret, algorithm="HS256"
        )

    def unsign(value: str, typ: str) -> dict[str, Any] | None:
        try:
            payload = jwt.decode(value, policy.secret, algorithms=["HS256"], issuer=policy.issuer)
        except jwt.PyJWTError:
            return None
        return payload if payload.get("typ") == typ else None

    def set_cookie(response: Response, name: str, value: str, samesite: Literal["lax", "strict"]) -> None:
        response.set_cookie(
            name,
            value,
            max_age=TICKET_TTL_S,
            httponly=True,
            samesite=samesite,
            secure=secure,
            path="/oauth/",
        )

    def ticket_for(claims: dict[str, Any], request_query: str, csrf: str) -> str:
        payload = {
            "typ": "consent",
            "person": claims,
            "req": request_hash(request_query),
            "csrf": hashlib.sha256(csrf.encode()).hexdigest(),
        }
        return sign(payload)

    def ticket_claims(ticket: str, request_query: str, csrf_form: str, csrf_cookie: str) -> dict[str, Any] | None:
        payload = unsign(ticket, "consent")
        if payload is None:
            return None
        same_request = payload.get("req") == request_hash(request_query)
        same_browser = bool(csrf_cookie) and hmac.compare_digest(csrf_form, csrf_cookie)
        bound = hmac.compare_digest(str(payload.get("csrf")), hashlib.sha256(csrf_cookie.encode()).hexdigest())
        return payload["person"] if same_request and same_browser and bound else None

    def consent_page(action: str, client_name: str, scope: str, viewer: Viewer, request_query: str) -> Response:
        csrf = secrets.token_urlsafe(24)
        ticket = ticket_for(person_claims(viewer.claims), request_query, csrf)
        response = pages.consent(action, client_name, scope, viewer.name, ticket, csrf)
        set_cookie(response, CSRF_COOKIE, csrf, "strict")
        return response

    async def start_sign_in(request_query: str) -> Response:
        """Send the browser to the identity provider, the handshake's secrets kept in a signed cookie."""
        assert idp is not None
        state, nonce, code_verifier = (secrets.token_urlsafe(n) for n in (24, 24, 48))
        try:
            url = await idp.authorization_url(state, nonce, code_verifier)
        except SignInFailed as e:
            log.warning("oauth sign-in cannot start: %s", e)
            return pages.failure("the court identity provider cannot be reached: try again later", 503)
        handshake = {"typ": "idp", "state": state, "nonce": nonce, "verifier": code_verifier, "q": request_query}
        response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
        set_cookie(response, HANDSHAKE_COOKIE, sign(handshake), "lax")
        return response

    def signed_in(request: Request) -> Viewer | None:
        """The person the identity provider signed in for this very authorisation request, if any."""
        payload = unsign(request.cookies.get(SIGNIN_COOKIE, ""), "signin")
        if payload is None or payload.get("req") != request_hash(request.url.query):
            return None
        try:
            return viewer_from_claims(payload["person"])
        except (AuthError, KeyError, TypeError):
            return None

    async def authorize(request: Request) -> Response:
        try:
            oauth_request = await read_form(request, server.policy.issuer)
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
            if idp is None:
                if not demo:
                    return pages.failure("sign-in through the court identity provider is not configured", 503)
                return pages.sign_in(action, client.name, scope, demo=demo)
            viewer = signed_in(request)
            if viewer is None:
                return await start_sign_in(request.url.query)
            return consent_page(action, client.name, scope, viewer, request.url.query)
        if form.get("step") == "sign-in":
            if not demo:  # the pasted token: the demo's scripted path only (docs/api-guide.md)
                return pages.failure("sign in through the court identity provider", 403)
            try:
                viewer = await verifier.verify(form.get("id_token", "").strip())
            except AuthError as e:
                return pages.sign_in(action, client.name, scope, error=f"sign-in failed: {e}", demo=demo)
            problem = admission_problem(viewer)
            if problem and problem[1] == 401:
                return pages.sign_in(action, client.name, scope, error=problem[0], demo=demo)
            if problem:
                return pages.failure(*problem)
            return consent_page(action, client.name, scope, viewer, request.url.query)
        if form.get("step") == "consent":
            claims = ticket_claims(
                form.get("ticket", ""), request.url.query, form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
            )
            if claims is None:
                return pages.failure("this consent form has expired or did not come from this page: start again", 403)
            kept = kept_scope(oauth_request, scope)
            # the code, the grant and its tokens carry only what was kept
            person = Person(claims, kept_scope=kept) if form.get("decision") == "allow" and kept else None
            log.info(
                "oauth consent %s by %s for client %s (%s)",
                "given" if person else "refused",
                claims.get("sub"),
                client.client_id,
                kept if person else "-",
            )
            result = await server.call(server.create_authorization_response, oauth_request, person, grant)
            decided = _response(result)
            decided.delete_cookie(CSRF_COOKIE, path="/oauth/")
            decided.delete_cookie(SIGNIN_COOKIE, path="/oauth/")
            return decided
        return pages.failure("unknown step")

    async def callback(request: Request) -> Response:
        """The identity provider's answer: state checked, code exchanged, ID token validated (``idp``)."""
        if idp is None:
            return pages.failure("sign-in through the court identity provider is not configured", 404)
        handshake = unsign(request.cookies.get(HANDSHAKE_COOKIE, ""), "idp")
        if handshake is None:
            return pages.failure("this sign-in expired or did not start in this browser: start again", 403)
        state = request.query_params.get("state", "")
        if not hmac.compare_digest(state.encode(), str(handshake["state"]).encode()):
            log.warning("oauth sign-in refused: the state does not match this browser's")
            return pages.failure("this sign-in answer does not belong to this browser: start again", 403)
        if "error" in request.query_params:
            error = request.query_params["error"][:40]
            return pages.failure(f"the court identity provider did not sign you in ({error})", 403)
        code = request.query_params.get("code", "")
        if not code or len(code) > 512:
            return pages.failure("the identity provider's answer has no code", 400)
        try:
            claims = await idp.sign_in(code, str(handshake["verifier"]), str(handshake["nonce"]))
            viewer = viewer_from_claims(claims)
        except (SignInFailed, AuthError) as e:
            log.warning("oauth sign-in refused: %s", e)
            return pages.failure(f"sign-in failed: {e}", 403)
        problem = admission_problem(viewer)
        if problem:
            return pages.failure(*problem)
        back = PATHS["authorization_endpoint"] + (f"?{handshake['q']}" if handshake["q"] else "")
        response = RedirectResponse(back, status_code=303, headers={"Cache-Control": "no-store"})
        set_cookie(
            response,
            SIGNIN_COOKIE,
            sign({"typ": "signin", "person": person_claims(claims), "req": request_hash(handshake["q"])}),
            "lax",
        )
        response.delete_cookie(HANDSHAKE_COOKIE, path="/oauth/")
        return response

    async def token(request: Request) -> Response:
        try:
            oauth_request = await read_form(request, server.policy.issuer)
        except ValueError:
            return JSONResponse({"error": "invalid_request"}, status_code=413)
        return _response(await server.call(server.create_token_response, oauth_request))

    def endpoint(name: str) -> Any:
        async def handle(request: Request) -> Response:
            try:
                oauth_request = await read_form(request, server.policy.issuer)
            except ValueError:
                return JSONResponse({"error": "invalid_request"}, status_code=413)
            return _response(await server.call(server.create_endpoint_response, name, oauth_request))

        return handle

    async def well_known(request: Request) -> Response:
        return JSONResponse(metadata(policy.issuer), headers={"Cache-Control": "max-age=300"})

    return [
        Route(PATHS["authorization_endpoint"], authorize, methods=["GET", "POST"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
        Route(PATHS["token_endpoint"], token, methods=["POST"]),
        Route(PATHS["revocation_endpoint"], endpoint("revocation"), methods=["POST"]),
        Route(PATHS["introspection_endpoint"], endpoint("introspection"), methods=["POST"]),
        Route(METADATA_PATH, well_known, methods=["GET"]),
    ]
