"""Settings, 12-factor style: defaults, then one TOML config file, then environment variables.

``GATEWAY_CONFIG`` names the config file (optional). Every setting can also be given as an
environment variable ``GATEWAY_<NAME>``; nested values use ``__`` (``GATEWAY_COURT_OVERRIDES__YUEXIU__BASE_URL``).
The court registry is configuration too: the TOML files in ``court_files`` list the courts, and
``court_overrides`` (keyed by a court's slug) changes an entry per deployment, e.g. its base URL and
credentials in production.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.adapters.model import Tier
from gateway.origins import demo_origins, normalized_origins

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COURT_FILES = (
    ROOT / "gateway" / "adapters" / "courts.toml",
    ROOT / "adapters" / "basic_courts" / "courts.toml",
)
DEFAULT_SEED_FILE = ROOT / "simulators" / "seed.toml"
#: the demo's secrets: public (they are in this repository), so production refuses them (``gateway.security``)
DEMO_JWT_HS256_SECRET = "court-gateway-demo-identity-provider-only"
DEMO_DOWNLOAD_SECRET = "court-gateway-demo-download-links-only"
DEMO_OAUTH_SECRET = "court-gateway-demo-oauth-access-tokens-only"


class SealSigner(BaseModel):
    """One court's seal credential (or every court's): each value PEM text or the path of a PEM file."""

    model_config = ConfigDict(frozen=True)

    #: the signing certificate, then the certificates of its chain (intermediates; the root may follow)
    certificate: str
    #: its private key (PKCS#8 or PKCS#1 PEM), encrypted with key_password when that is set
    key: str
    key_password: str = ""


class CourtConfig(BaseModel):
    """One backend: a court, or the national unified service platform."""

    model_config = ConfigDict(frozen=True)

    code: str  # 案号代字, e.g. 粤0104; the platform has a code of its own
    slug: str  # ASCII name for ports, env vars and logs
    name: str
    short_name: str  # the SMS prefix: 【越秀法院】
    tier: Tier
    family: str  # v2-rest, soap-gbk, jsonrpc-sign, csv-export
    kind: Literal["court", "platform"] = "court"
    base_url: str
    credentials: dict[str, str] = Field(default_factory=dict)
    deadline_ms: int = 2500
    concurrency: int = 8
    old_abbreviations: tuple[str, ...] = ()
    region_prefix: str = ""

    @property
    def is_court(self) -> bool:
        return self.kind == "court"

    @property
    def port(self) -> int:
        """The port of ``base_url``; the simulators listen there."""
        from urllib.parse import urlsplit

        port = urlsplit(self.base_url).port
        if port is None:
            raise ValueError(f"{self.code}: base_url has no port")
        return port


def load_court_files(paths: tuple[Path, ...], overrides: dict[str, dict[str, Any]]) -> tuple[CourtConfig, ...]:
    courts: list[CourtConfig] = []
    for path in paths:
        with open(path, "rb") as f:
            for entry in tomllib.load(f).get("court", []):
                entry = {**entry, **overrides.get(entry["slug"], {})}
                courts.append(CourtConfig.model_validate(entry))
    codes = [c.code for c in courts]
    duplicates = {c for c in codes if codes.count(c) > 1}
    if duplicates:
        raise ValueError(f"court codes configured twice: {sorted(duplicates)}")
    return tuple(courts)


class Settings(BaseSettings):
    """Everything the gateway, the simulators and the CLI read from their environment."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore")

    #: the TOML config file (read from ``GATEWAY_CONFIG``; optional)
    config: Path | None = None
    #: "production" refuses to start on a demo or public secret, a short secret, or a token issuer or
    #: audience left unset (``gateway.security``); "demo" starts on the demo secrets and warns
    mode: Literal["demo", "production"] = "demo"
    #: TOML files listing the courts
    court_files: tuple[Path, ...] = DEFAULT_COURT_FILES
    #: per-court changes keyed by slug, e.g. {"yuexiu": {"base_url": "https://…"}}
    court_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    database_url: str = "sqlite+aiosqlite:///.data/gateway.db"
    cache_url: str = "memory://"
    cache_ttl_s: float = 30.0
    #: replay whole answers of read-only case queries while the generations they drew on stand
    #: (``gateway.response_cache``); off when false or when ``cache_ttl_s`` is 0
    response_cache: bool = True
    #: the garbage collector tuned for a serving process (``gateway.gc_tuning``); ``serve`` turns it on
    gc_tuned: bool = False
    #: the longest an answer is replayed (capped by ``cache_ttl_s``): for changes no court feed reports
    response_cache_ttl_s: float = Field(default=30.0, ge=0)
    host: str = "127.0.0.1"
    port: int = 18000
    graphiql: bool = False
    #: the browser pages allowed to call the gateway, e.g. ["https://aol.gzcourt.gov.cn"]: CORS on HTTP and
    #: the Origin check on WebSocket upgrades (``gateway.origins``; a page on the gateway's own host and a
    #: WebSocket without an Origin are always let in). Unset: in demo mode the demo's own pages and Vite's
    #: http://localhost:5173; in production none
    allowed_origins: tuple[str, ...] | None = None
    #: how long a browser may cache a CORS preflight answer (browsers cap it: Chromium at 7,200 s)
    cors_max_age_s: int = Field(default=3600, ge=0)
    #: which documents a caller may send as text (``gateway.persisted``), per kind of caller: first-party
    #: tokens and anonymous callers, and OAuth client tokens (law firms' software). "trusted": only documents
    #: in a manifest of ``trusted_documents_dir``; "any": their own too, within the cost budget. Unset:
    #: first-party "any" in demo mode, "trusted" in production (``gateway.security.document_policy``)
    first_party_documents: Literal["any", "trusted"] | None = None
    client_documents: Literal["any", "trusted"] = "any"
    #: the trusted-document manifests, ``{"<sha256>": "<document>"}`` per client (``clients/manifests``)
    trusted_documents_dir: Path | None = ROOT / "clients" / "manifests"
    #: Apollo's automatic persisted queries; registered documents are kept this long (Redis cache)
    apq: bool = True
    apq_ttl_s: float = Field(default=24 * 3600.0, gt=0)
    #: who may introspect the schema: "all", "authenticated" (signed-in callers) or "off". Unset: "all" in
    #: demo mode, "authenticated" in production (``gateway.security.introspection_policy``)
    introspection: Literal["all", "authenticated", "off"] | None = None
    #: the data kinds whose last known answer is served, marked stale with its age, while their court is
    #: down (``gateway.last_known``): "case_lists" (myCases, courtCases) and "cases" (one case's record).
    #: Authorisation decisions (case bindings, access checks, rosters) are never among them
    stale_kinds: tuple[str, ...] = ("case_lists", "cases")
    #: how long a last known answer is kept after it was read from its court
    stale_keep_s: float = Field(default=24 * 3600.0, ge=0)
    #: one deadline for a whole GraphQL request's court calls (each court also has its own)
    request_deadline_s: float = 4.0
    #: how often each court's change feed is read (0: not followed)
    change_poll_s: float = 2.0
    #: how often background workers (outboxes) look for work when nobody woke them
    worker_interval_s: float = 1.0
    #: how long a claimed signature, case binding or text is left to its worker before any replica may
    #: deliver it again (with the same idempotency key): the wait after a replica dies mid-delivery.
    #: Filings have their own (filing_claim_lease_s); a text's claim also outlasts 4 × sms_http_timeout_s,
    #: a webhook's 4 × webhook_timeout_s
    outbox_claim_lease_s: float = Field(default=120.0, gt=0)

    #: signing (电子送达): the outbox's retry backoff, doubling from base to cap, with jitter
    signature_retry_base_s: float = 2.0
    signature_retry_cap_s: float = 600.0
    #: signed download links (service certificates, case-file materials): the HMAC key, and how long a
    #: link stays valid. The default key is public: production refuses it (set GATEWAY_DOWNLOAD_SECRET).
    download_secret: str = DEMO_DOWNLOAD_SECRET
    download_link_ttl_s: float = Field(default=300.0, gt=0)
    #: prefix for links handed to clients (e.g. https://aol.gzcourt.gov.cn); empty: gateway-relative paths
    public_url: str = ""

    #: filings (网上提交材料): upload limits, checked before anything is stored
    filing_max_file_bytes: int = 20 * 1024 * 1024
    filing_max_total_bytes: int = 50 * 1024 * 1024
    filing_max_files: int = 10
    #: the largest request body accepted at all (checked before parsing): a whole filing plus room for
    #: the multipart envelope
    max_request_bytes: int = 51 * 1024 * 1024
    #: the largest GraphQL document accepted (the query text with its variables: a JSON or GET body, or a
    #: multipart request's ``operations`` part), checked before anything is parsed; uploads alone may be larger
    max_document_bytes: int = Field(default=64 * 1024, gt=0)
    #: the filing outbox: retry backoff doubling from base to cap (with jitter), how long a claimed
    #: delivery is left to its worker before another may retry it, and how many are claimed per round
    filing_retry_base_s: float = 2.0
    filing_retry_cap_s: float = 600.0
    filing_claim_lease_s: float = 60.0
    filing_batch_size: int = 20

    #: identity: HS256 for the built-in demo identity provider, RS256 + JWKS in production (where the demo
    #: key is refused: set GATEWAY_JWT_HS256_SECRET to a real shared secret, or to "" beside a JWKS URL)
    jwt_hs256_secret: str = DEMO_JWT_HS256_SECRET
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    #: a token whose exp - iat (exp - now without iat) is longer than this is refused
    jwt_max_lifetime_s: float = Field(default=24 * 3600.0, gt=0)

    # -- the OAuth authorisation server for firms' software (gateway.oauth, issue 14) --------------------
    #: the authorisation server's issuer URL (RFC 8414), also the ``iss`` of the access tokens it signs;
    #: unset: ``public_url``, else http://<host>:<port>. Production needs https (or a loopback address)
    oauth_issuer: str = ""
    #: the HMAC key of the access tokens the gateway issues to clients (HS256). The default is public:
    #: production refuses it (set GATEWAY_OAUTH_TOKEN_SECRET, at least 32 bytes)
    oauth_token_secret: str = Field(default=DEMO_OAUTH_SECRET, repr=False)
    #: how long an access token, a refresh token and an authorization code live
    oauth_access_token_ttl_s: int = Field(default=600, gt=0)
    oauth_refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    oauth_code_ttl_s: int = Field(default=120, gt=0)
    #: how long a replica trusts its last look at a grant (revoked or not): a revoked grant's access
    #: tokens stop working within this many seconds on every replica, at once on the one that revoked it
    oauth_grant_check_s: float = Field(default=5.0, ge=0)
    #: a client's quota unless registered with its own: requests refilled per second, and the burst
    oauth_client_rate_per_s: float = Field(default=2.0, gt=0)
    oauth_client_burst: int = Field(default=120, ge=1)

    # -- the court identity provider for the consent step (gateway.oauth.idp, OpenID Connect) -----------
    #: the provider's issuer; set: a person authorising a firm's software signs in there (code + PKCE +
    #: state + nonce); unset: the sign-in page takes a pasted court token, in demo mode only
    idp_issuer: str = ""
    #: unset: <idp_issuer>/.well-known/openid-configuration
    idp_discovery_url: str = ""
    #: the gateway's registration at the provider (its redirect URI: <oauth issuer>/oauth/idp/callback)
    idp_client_id: str = ""
    idp_client_secret: str = Field(default="", repr=False)
    idp_scopes: str = "openid profile phone"
    #: ``court-gateway demo`` serves the demo identity provider as an OpenID Connect provider on this port
    #: (``simulators.oidc``) and signs persons in there, unless ``idp_issuer`` names another provider
    demo_idp_port: int = 18300

    # -- demand control (gateway.demand) ---------------------------------------------------------------
    #: the most an operation may cost before it runs (objects in the answer + 10 per court call + 10 per
    #: mutation field); over it: COST_LIMIT_EXCEEDED, nothing executed. The AOL frontend's detailed case
    #: page (myCases(first: 20) with parties, agents, panel, hearings, related cases, served documents)
    #: costs about 1,700
    cost_budget: int = Field(default=5000, ge=0)
    #: the size assumed for a list that has no ``first`` (parties, hearings, volumes …)
    cost_assumed_list_size: int = Field(default=5, ge=0)
    #: requests per principal (the token's subject; anonymous callers by client IP): a token bucket of
    #: rate_limit_burst requests refilled at rate_limit_per_s, shared across processes through Redis when
    #: cache_url is Redis; rate_limit_per_s = 0 turns rate limiting off
    rate_limit_per_s: float = Field(default=20.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)

    # -- observability (gateway.observability) -----------------------------------------------------------
    #: the bearer token a Prometheus server sends to read /metrics (at least 32 characters); unset: only
    #: identity provider tokens with the OPERATOR role may read it
    metrics_token: str = Field(default="", repr=False)
    #: OpenTelemetry traces: W3C traceparent in, traceresponse out, spans for requests, court calls,
    #: their HTTP attempts and SQL statements; exported only when tracing_otlp_endpoint is set
    tracing: bool = False
    #: an OTLP/HTTP traces endpoint (e.g. http://otel-collector:4318/v1/traces)
    tracing_otlp_endpoint: str = ""
    tracing_service_name: str = "court-gateway"
    #: the root logger's level; every line is JSON on stderr
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: the key of the principal hash in access lines (the same on every replica); unset: derived from
    #: download_secret, which production sets
    log_hash_secret: str = Field(default="", repr=False)

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("metrics_token must be at least 32 characters (or unset)")
        return value

    @property
    def oauth_issuer_url(self) -> str:
        """The authorisation server's issuer (``oauth_issuer``, else ``public_url``, else this host and port)."""
        return (self.oauth_issuer or self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def log_hash_key(self) -> bytes:
        """The principal hash's key (``log_hash_secret``, else one derived from ``download_secret``)."""
        return (self.log_hash_secret or f"principal-log:{self.download_secret}").encode()

    #: the simulated legacy world
    seed_file: Path = DEFAULT_SEED_FILE
    sim_cases_per_court: int | None = None  # None: the seed file's demo size
    sim_control_port: int = 18400

    # -- notifications: the SMS outbox's delivery and live in-app notices (issue 4) ------------------
    #: where texts go: "log" (the demo: one JSON line per message in sms_log_path, read with
    #: `court-gateway sms tail`) or "http" (POST to sms_http_url)
    sms_provider: Literal["log", "http"] = "log"
    #: unset: sms.log beside a SQLite database file (so .data/sms.log by default), else .data/sms.log
    sms_log_path: Path | None = None
    sms_http_url: str = ""
    sms_http_token: str = ""  # sent as a bearer token when set
    sms_http_timeout_s: float = 10.0
    #: at most sms_rate_limit texts to one phone in any sms_rate_window_s; more wait, none is dropped
    sms_rate_limit: int = Field(default=5, ge=1)
    sms_rate_window_s: float = 60.0
    #: a failed send is retried after sms_retry_base_s, doubling (with jitter) up to sms_retry_max_s,
    #: and given up (FAILED) after sms_max_attempts
    sms_max_attempts: int = Field(default=6, ge=1)
    sms_retry_base_s: float = 10.0
    sms_retry_max_s: float = 1800.0
    #: how often a live notificationAdded subscription looks for new notices in the store
    notification_poll_s: float = 0.5

    # -- firm software: changes, webhooks, calendar feeds (issue 14) -----------------------------------
    #: how long a `changes` point stays valid after it was issued; an older one asks for a full re-read
    changes_point_valid_days: int = Field(default=30, ge=1)
    #: a webhook is retried after webhook_retry_base_s, doubling (with jitter) up to webhook_retry_max_s;
    #: the 30th attempt (17 to 23 hours after the first, with the jitter) failing ends it and disables its endpoint
    webhook_max_attempts: int = Field(default=30, ge=1)
    webhook_retry_base_s: float = 30.0
    webhook_retry_max_s: float = 3600.0
    #: one delivery's whole exchange with the receiver; its answer is read up to 64 KiB and dropped
    webhook_timeout_s: float = 10.0

    # -- deadlines and 12368 tickets (issue 5) -------------------------------------------------------
    #: a TOML file of State Council holiday schedules the holiday library does not carry yet (one table
    #: per year: holidays, workdays); it wins over the library and over the computed statutory holidays
    #: (gateway.core.schedule_overrides)
    calendar_override_file: Path | None = None
    #: working days to answer a 12368 ticket: ticket_default_working_days, unless ticket_working_days has
    #: "court:CATEGORY" (e.g. "粤0104:URGE"), "CATEGORY" or "court"
    ticket_default_working_days: int = Field(default=2, ge=0)
    ticket_working_days: dict[str, int] = Field(default_factory=dict)
    #: an overdue item goes to the division head at once, and to the court leaders this many more working
    #: days after its deadline; escalation_second_working_days_by overrides it per "court:CATEGORY",
    #: "CATEGORY" (a ticket category, or a subject type such as "binding") or "court"
    escalation_second_working_days: int = Field(default=1, ge=0)
    escalation_second_working_days_by: dict[str, int] = Field(default_factory=dict)

    # -- case bindings (案件绑定申请, issue 5) --------------------------------------------------------------
    #: working days the panel has to review a binding: the court's own service target, tracked and escalated
    #: like a 12368 ticket. Not 在线诉讼规则 art. 10, whose 三日 is the notified participant's time to link
    #: the case (their act, not the court's review)
    binding_review_working_days: int = Field(default=3, ge=0)
    #: applications one applicant may make in any 24 hours (each texts a panel); more are RATE_LIMITED
    binding_applications_per_day: int = Field(default=10, ge=1)
    #: the binding outbox's backoff while a court cannot take the lawyer's entry
    binding_retry_base_s: float = 2.0
    binding_retry_cap_s: float = 600.0

    # -- case-file reading (电子阅卷, issue 5) ----------------------------------------------------------
    #: the archive office decides a reading application within this many working days
    archive_review_working_days: int = Field(default=2, ge=0)
    #: an approval opens a reading window of this many hours
    archive_window_hours: float = Field(default=72.0, gt=0)
    #: the court seal on case-file downloads and service certificates, a PDF signature (PAdES): each court's
    #: signing credential keyed by its slug, or "default" for every court without one of its own
    #: (GATEWAY_SEAL_SIGNERS__DEFAULT__CERTIFICATE=/run/secrets/seal.pem). Empty in the demo: a demo chain
    #: generated on first use in seal_demo_dir; production refuses it (gateway.security)
    seal_signers: dict[str, SealSigner] = Field(default_factory=dict)
    #: root certificates a seal must chain to when verified (PEM text or file paths); the demo adds its own
    seal_trust_roots: list[str] = Field(default_factory=list)
    #: where the demo chain is kept; unset: seal-demo beside a SQLite database file, else .data/seal-demo
    seal_demo_dir: Path | None = None
    #: the earlier seal (an Ed25519 line after %%EOF), no longer made, still verified during the transition:
    #: its key (a PKCS#8 PEM, or the 32-byte seed as 64 hex digits; the demo trusts the public demo key too)
    seal_private_key: str = ""
    #: earlier seal keys still trusted when verifying (PEM public keys, or raw keys as 64 hex digits)
    seal_trusted_public_keys: list[str] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("GATEWAY_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("allowed_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if origins is None else normalized_origins(origins)

    @field_validator("stale_kinds")
    @classmethod
    def _known_stale_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        from gateway.last_known import check_kinds

        return check_kinds(kinds)

    @property
    def browser_origins(self) -> tuple[str, ...]:
        """The origins allowed in effect (``allowed_origins``, or the mode's default)."""
        if self.allowed_origins is not None:
            return self.allowed_origins
        return demo_origins(self.port) if self.mode == "demo" else ()

    @cached_property
    def courts(self) -> tuple[CourtConfig, ...]:
        """Every configured backend, courts first in configuration order, then platforms."""
        loaded = load_court_files(self.court_files, self.court_overrides)
        return tuple(c for c in loaded if c.is_court) + tuple(c for c in loaded if not c.is_court)

    def court(self, code: str) -> CourtConfig:
        for court in self.courts:
            if court.code == code:
                return court
        raise KeyError(code)
