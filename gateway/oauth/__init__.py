"""The OAuth 2.1 authorisation server for firms' software (issue 14), built on Authlib's server classes.

A court registers a client (``court-gateway clients add``); a lawyer or party signs in at the court
identity provider by the OpenID Connect handshake (``idp``; in demo mode also by pasting a demo
token) and consents to named scopes on a server-rendered page (``pages``); the client
exchanges the code with its PKCE verifier (S256 only) for a short-lived access token, a JWT the gateway's
own ``TokenVerifier`` accepts (``tokens``), and a refresh token rotated at every use (``server``).

Revocation: every token names its grant (``gid``). Revoking the grant (the person in the API, the client
at the RFC 7009 endpoint, the court with the CLI, or the server itself when a used refresh token or code
comes back) ends its refresh tokens at once and its access tokens within ``oauth_grant_check_s``: the
verifier asks ``GrantCheck`` about the grant of every client token, and each replica trusts its last look
for that long (the replica that revoked forgets at once).

Modules: ``store`` (the tables' functions), ``server`` (Authlib wiring), ``tokens`` (access tokens),
``routes`` (the HTTP endpoints and the consent page), ``idp`` (the gateway as the identity provider's
OpenID Connect relying party), ``clients`` (registration, for the CLI).
"""
