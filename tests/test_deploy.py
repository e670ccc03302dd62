"""The deployment material as an operator uses it: the Dockerfile and the Kubernetes manifests.

No image is built and no cluster is asked here (neither is reachable from the test machine). Instead
the manifests are validated against a current Kubernetes release's schemas (``kubernetes-validate``
ships them, so this runs offline), strictly, and read for what they must say: production mode, probes
on the real endpoints, a non-root read-only container, selectors that select, a shutdown that fits in
its grace period, and an autoscaler bounded by what the courts accept. The ConfigMap and Secret are
turned into the gateway's real ``Settings``: as shipped, production refuses their placeholders; filled
in, every court has the credentials its family speaks. The Dockerfile is parsed the same way.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.cli import build_parser
from gateway.config import DEFAULT_COURT_FILES, Settings
from gateway.security import production_problems
from gateway.workers import STOP_GRACE_S
from tests.seals import court_chain

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.31"  # validated against this release's schemas (or the newest before it)
PLACEHOLDER = "REPLACE-ME"


def manifests() -> dict[str, dict[str, Any]]:
    """Every resource, keyed ``Kind/name``."""
    resources = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            resources[f"{doc['kind']}/{doc['metadata']['name']}"] = {**doc, "_file": path.name}
    return resources


RESOURCES = manifests()


def resource(kind: str, name: str = "court-gateway") -> dict[str, Any]:
    return RESOURCES[f"{kind}/{name}"]


def job() -> dict[str, Any]:
    (found,) = (r for key, r in RESOURCES.items() if key.startswith("Job/"))
    return found


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = resource("Deployment")["spec"]["template"]["spec"]
    return spec


def gateway_container() -> dict[str, Any]:
    (container,) = pod_spec()["containers"]
    return container


def serve_args() -> Any:
    """The Deployment's command line, read by the real CLI parser."""
    return build_parser().parse_args(gateway_container()["args"])


def release() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


# -- schemas -----------------------------------------------------------------------------------------


def test_the_schemas_ship_with_the_validator_so_no_network_is_needed() -> None:
    from kubernetes_validate.utils import all_versions

    assert any(v.startswith(KUBERNETES) for v in all_versions()), all_versions()


@pytest.mark.parametrize("key", sorted(RESOURCES))
def test_each_manifest_is_valid_for_a_current_kubernetes_strictly(key: str) -> None:
    body = {k: v for k, v in RESOURCES[key].items() if k != "_file"}
    assert kubernetes_validate.validate(body, KUBERNETES, strict=True) == KUBERNETES


def test_a_misspelt_field_fails_validation() -> None:
    """Strict mode refuses unknown fields: the check above can fail."""
    broken = json.loads(json.dumps({k: v for k, v in resource("Deployment").items() if k != "_file"}))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_kustomization_applies_everything_but_the_migration_job() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    files = {r["_file"] for r in RESOURCES.values()}
    assert set(kustomization["resources"]) == files - {job()["_file"]}
    assert {i["newTag"] for i in kustomization["images"]} == {release()}


def test_every_kind_an_operator_needs_is_there() -> None:
    kinds = {r["kind"] for r in RESOURCES.values()}
    assert kinds >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Job",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    }


# -- the gateway's pods --------------------------------------------------------------------------------


def test_the_deployment_runs_serve_in_production_with_its_probes() -> None:
    deployment = resource("Deployment")
    assert deployment["spec"]["replicas"] == 3
    container = gateway_container()
    args = serve_args()
    assert args.command == "serve" and args.workers >= 1
    assert container["image"] == f"court-gateway:{release()}"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = resource("ConfigMap", "court-gateway-config")["data"]
    assert config["GATEWAY_MODE"] == "production"
    (port,) = container["ports"]
    assert port["containerPort"] == int(config["GATEWAY_PORT"])
    assert {"memory", "cpu"} <= set(container["resources"]["requests"]) and "memory" in container["resources"]["limits"]


@pytest.mark.parametrize("which", ["Deployment", "Job"])
def test_pods_run_as_non_root_on_a_read_only_root_with_a_writable_tmp(which: str) -> None:
    spec = pod_spec() if which == "Deployment" else job()["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    (tmp,) = (m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    refs = {(k, next(iter(v.values()))) for e in container["envFrom"] for k, v in e.items()}
    assert refs == {("configMapRef", "court-gateway-config"), ("secretRef", "court-gateway-secrets")}
    assert all(f"ConfigMap/{n}" in RESOURCES or f"Secret/{n}" in RESOURCES for _, n in refs)


def test_the_court_list_is_mounted_where_the_settings_look_for_it() -> None:
    config = resource("ConfigMap", "court-gateway-config")["data"]
    (court_file,) = (Path(p) for p in json.loads(config["GATEWAY_COURT_FILES"]))
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    (mount,) = (m for m in gateway_container()["volumeMounts"] if m["mountPath"] == str(court_file.parent))
    source = volumes[mount["name"]]["configMap"]["name"]
    assert court_file.name in resource("ConfigMap", source)["data"]


def test_a_stopping_pod_finishes_within_its_grace_period() -> None:
    """preStop, then uvicorn's graceful timeout, then the workers' grace: all before the kubelet's SIGKILL."""
    container = gateway_container()
    (command, seconds) = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command == "sleep"
    needed = int(seconds) + serve_args().graceful_timeout + STOP_GRACE_S
    assert pod_spec()["terminationGracePeriodSeconds"] > needed


def test_service_budget_and_autoscaler_select_the_gateways() -> None:
    labels = resource("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert resource("Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert resource("Service")["spec"]["selector"].items() <= labels.items()
    assert resource("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    job_labels = job()["spec"]["template"]["metadata"]["labels"]
    assert not resource("Service")["spec"]["selector"].items() <= job_labels.items(), "the Job serves nothing"
    assert resource("Service")["spec"]["ports"][0]["targetPort"] == gateway_container()["ports"][0]["name"]
    hpa = resource("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "court-gateway"}
    assert hpa["minReplicas"] == resource("Deployment")["spec"]["replicas"] <= hpa["maxReplicas"]
    assert resource("PodDisruptionBudget")["spec"]["maxUnavailable"] < hpa["minReplicas"]


def test_the_migration_job_runs_migrate_in_the_same_image() -> None:
    (container,) = job()["spec"]["template"]["spec"]["containers"]
    assert build_parser().parse_args(container["args"]).command == "migrate"
    assert container["image"] == gateway_container()["image"]
    assert job()["metadata"]["name"].endswith(release().replace(".", "-"))


# -- the courts' connection budgets ------------------------------------------------------------------------


def court_entries() -> Iterator[tuple[dict[str, Any], int]]:
    """Each court of the production court list, with the budget written above its concurrency."""
    text = resource("ConfigMap", "court-gateway-courts")["data"]["courts.toml"]
    budgets = [int(b) for b in re.findall(r"^# budget = (\d+)\nconcurrency = ", text, re.MULTILINE)]
    courts = tomllib.loads(text)["court"]
    assert len(budgets) == len(courts), "every court states its budget right above its concurrency"
    yield from zip(courts, budgets, strict=True)


def test_no_court_sees_more_connections_than_its_budget_at_the_autoscalers_ceiling() -> None:
    strategy = resource("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxSurge"] == 0, "a surge pod during a rollout would exceed the ceiling"
    processes = resource("HorizontalPodAutoscaler")["spec"]["maxReplicas"] * serve_args().workers
    for court, budget in court_entries():
        assert processes * court["concurrency"] <= budget, court["slug"]


def test_the_production_court_list_is_the_repositorys_with_endpoints_to_fill_in() -> None:
    shipped = {c["code"]: c for path in DEFAULT_COURT_FILES for c in tomllib.loads(path.read_text())["court"]}
    production = {c["code"]: c for c, _ in court_entries()}
    assert production.keys() == shipped.keys()
    for code, court in production.items():
        assert "credentials" not in court, f"{code}: credentials belong in the Secret"
        assert court["base_url"].startswith("https://") and court["base_url"].endswith(".invalid"), code
        same = ("slug", "name", "short_name", "tier", "family", "deadline_ms", "old_abbreviations", "region_prefix")
        assert {k: court.get(k) for k in same} == {k: shipped[code].get(k) for k in same}, code


# -- the settings the pods get -----------------------------------------------------------------------------


def pod_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fill: bool) -> Settings:
    """The ``Settings`` a gateway pod builds from the ConfigMap and the Secret (placeholders filled in or not)."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    courts = tmp_path / "courts.toml"
    courts.write_text(resource("ConfigMap", "court-gateway-courts")["data"]["courts.toml"], encoding="utf-8")
    env = {
        **resource("ConfigMap", "court-gateway-config")["data"],
        **resource("Secret", "court-gateway-secrets")["stringData"],
    }
    for entry in gateway_container().get("env", []):  # single settings taken from other Secrets
        ref = entry["valueFrom"]["secretKeyRef"]
        env[entry["name"]] = resource("Secret", ref["name"])["stringData"][ref["key"]]
    env["GATEWAY_COURT_FILES"] = json.dumps([str(courts)])
    if fill:  # the scrape token ships empty (Prometheus refused until it is set)
        env["GATEWAY_METRICS_TOKEN"] = env["GATEWAY_METRICS_TOKEN"] or PLACEHOLDER
    if fill:  # the seal is a real certificate chain (not the demo's), the rest random keys
        root, certificate, key = court_chain("广州市中级人民法院")
        seals = {
            "GATEWAY_SEAL_SIGNERS__DEFAULT__CERTIFICATE": certificate,
            "GATEWAY_SEAL_SIGNERS__DEFAULT__KEY": key,
            "GATEWAY_SEAL_TRUST_ROOTS": json.dumps([root]),
        }
        assert set(seals) <= set(env), "the Secret template names the seal settings"
        env |= seals
    for name, value in env.items():
        if fill and PLACEHOLDER in value:
            value = value.replace(PLACEHOLDER, secrets.token_hex(32))
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize("name", ["court-gateway-secrets", "court-gateway-metrics"])
def test_the_secret_ships_placeholders_only(name: str) -> None:
    values = resource("Secret", name)["stringData"]
    assert all(PLACEHOLDER in v for v in values.values() if v), "no real value in the template"


def test_production_refuses_the_secret_as_shipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    problems = " ".join(production_problems(pod_settings(monkeypatch, tmp_path, fill=False)))
    assert "GATEWAY_DOWNLOAD_SECRET" in problems and "GATEWAY_SEAL_SIGNERS" in problems
    assert "GATEWAY_IDP_CLIENT_SECRET" in problems


def test_filled_in_the_pods_settings_pass_production_with_every_courts_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = pod_settings(monkeypatch, tmp_path, fill=True)
    assert settings.mode == "production" and production_problems(settings) == []
    assert settings.database_url.startswith("postgresql+asyncpg://") and settings.cache_url.startswith("redis://")
    assert len(settings.metrics_token) >= 32  # what Prometheus sends, from the court-gateway-metrics Secret
    shipped = {c["code"]: c for path in DEFAULT_COURT_FILES for c in tomllib.loads(path.read_text())["court"]}
    assert len(settings.courts) == len(shipped)
    for court in settings.courts:
        assert set(court.credentials) == set(shipped[court.code]["credentials"]), court.slug
        assert all(len(v) == 64 for v in court.credentials.values()), court.slug


# -- the image ---------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (i.upper(), rest.strip())
        for i, _, rest in (line.partition(" ") for line in lines if line and not line.startswith("#"))
    ]


def instructions(name: str) -> list[str]:
    return [rest for i, rest in dockerfile() if i == name]


def test_the_image_is_multi_stage_on_a_pinned_python_311_slim() -> None:
    args = dict(a.split("=", 1) for a in instructions("ARG") if "=" in a)
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], f.split()[0]) for f in instructions("FROM")]
    assert len(bases) >= 2 and any("--from=build" in c for c in instructions("COPY"))
    for base in bases:
        image, _, tag = base.partition(":")
        assert image == "python" and tag.startswith("3.11-slim") and "latest" not in tag, base


def test_the_image_runs_serve_as_the_pods_non_root_user() -> None:
    (user,) = instructions("USER")
    uid = int(user.split(":")[0])
    assert uid != 0 and uid == pod_spec()["securityContext"]["runAsUser"]
    (entrypoint,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    assert json.loads(entrypoint) == ["court-gateway"]
    assert build_parser().parse_args(json.loads(cmd)).command == "serve"
    (healthcheck,) = instructions("HEALTHCHECK")
    assert "/healthz" in healthcheck
    (exposed,) = instructions("EXPOSE")
    assert int(exposed) == gateway_container()["ports"][0]["containerPort"]


def test_the_image_holds_the_package_only() -> None:
    copied = {shlex.split(c)[0] for c in instructions("COPY") if not c.startswith("--from")}
    assert copied == {"pyproject.toml", "gateway", "adapters", "simulators"}, copied
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*", "everything is ignored but what is let in"
    let_in = {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")}
    assert let_in == {"pyproject.toml", "README.md", "gateway", "adapters", "simulators"}


# -- metrics and traces ----------------------------------------------------------------------------------


def test_each_pod_is_scraped_on_its_own_metrics_port_and_path() -> None:
    """Annotations for Prometheus's pod discovery, naming the container's port and the app's /metrics."""
    from gateway.app import create_app

    annotations = resource("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    (port,) = gateway_container()["ports"]
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    routes = {getattr(r, "path", None) for r in create_app(Settings(), graphiql=False).routes}
    assert annotations["prometheus.io/path"] in routes
    ingress = resource("NetworkPolicy")["spec"]["ingress"]
    assert any(p["port"] == port["containerPort"] for rule in ingress for p in rule["ports"])


def test_the_scrape_token_has_its_own_secret_that_the_pods_read() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    secret = resource("Secret", "court-gateway-metrics")
    assert secret["_file"] in kustomization["resources"]
    (entry,) = (e for e in gateway_container()["env"] if e["name"] == "GATEWAY_METRICS_TOKEN")
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "court-gateway-metrics", "key": "token"}


def test_the_pods_export_traces_to_an_otlp_collector(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = pod_settings(monkeypatch, tmp_path, fill=True)
    assert settings.tracing and settings.tracing_service_name == "court-gateway"
    assert re.fullmatch(r"https?://[a-z0-9.-]+:4318/v1/traces", settings.tracing_otlp_endpoint)
