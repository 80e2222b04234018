"""The Envoy configuration (config only: nothing runs Envoy here), checked for
structure: every route's cluster exists, every cluster balances the replicas of
a headless Service that the manifests really define (name and port), speaks
HTTP/2, is health-checked with gRPC health and retried on UNAVAILABLE; and both
Envoy overlays ship that very file and point the gateway at Envoy."""

from __future__ import annotations

import pytest
import yaml

from tests.contract.test_deploy_kustomize import REPO, container_env, rendered

ENVOY = REPO / "deploy" / "kustomize" / "components" / "envoy-config" / "envoy.yaml"
HCM = "envoy.filters.network.http_connection_manager"
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


@pytest.fixture(scope="module")
def envoy() -> dict:
    return yaml.safe_load(ENVOY.read_text())


def routes(listener: dict) -> list[dict]:
    found = []
    for chain in listener["filter_chains"]:
        for network_filter in chain["filters"]:
            assert network_filter["name"] == HCM
            config = network_filter["typed_config"]
            assert config["codec_type"] in ("HTTP2", "AUTO")
            assert config["http_filters"][-1]["name"] == "envoy.filters.http.router"
            for host in config["route_config"]["virtual_hosts"]:
                found.extend(host["routes"])
    return found


def test_every_route_goes_to_a_defined_cluster_and_retries_unavailable(envoy):
    clusters = {c["name"] for c in envoy["static_resources"]["clusters"]}
    listeners = envoy["static_resources"]["listeners"]

    assert listeners
    used = set()
    for listener in listeners:
        for route in routes(listener):
            target = route["route"]["cluster"]
            assert target in clusters, (
                f"listener {listener['name']} routes to unknown cluster {target}"
            )
            assert "unavailable" in route["route"]["retry_policy"]["retry_on"].split(",")
            used.add(target)
    assert used == clusters  # no dead cluster either


def test_clusters_balance_headless_services_over_http2_with_grpc_health_checks(envoy):
    services = {
        (d["metadata"]["name"], d["metadata"]["namespace"]): d
        for d in rendered("prod")
        if d["kind"] == "Service"
    }
    for cluster in envoy["static_resources"]["clusters"]:
        assert cluster["type"] == "STRICT_DNS"
        assert (
            "http2_protocol_options"
            in cluster["typed_extension_protocol_options"][HTTP_OPTIONS]["explicit_http_config"]
        )
        assert cluster["health_checks"] and all(
            "grpc_health_check" in h for h in cluster["health_checks"]
        )
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                address = endpoint["endpoint"]["address"]["socket_address"]
                name, namespace = address["address"].split(".")[:2]
                service = services.get((name, namespace))
                assert service is not None, f"{cluster['name']}: no Service {name} in {namespace}"
                assert service["spec"]["clusterIP"] == "None", f"{name} is not headless"
                assert address["port_value"] in {p["port"] for p in service["spec"]["ports"]}


def test_the_dispatcher_is_never_balanced(envoy):
    # Agents must reach the replica that launched their pod.
    for cluster in envoy["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                assert (
                    "dispatcher" not in endpoint["endpoint"]["address"]["socket_address"]["address"]
                )


@pytest.mark.parametrize(
    "overlay,address",
    [("prod-envoy-sidecar", "127.0.0.1:"), ("prod-envoy-edge", "leoflow-grpc-edge.leoflow.svc:")],
)
def test_envoy_overlays_ship_the_config_and_point_the_gateway_at_envoy(overlay, address, envoy):
    docs = rendered(overlay)
    config_map = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("leoflow-envoy-")
    )
    assert yaml.safe_load(config_map["data"]["envoy.yaml"]) == envoy
    ports = {
        str(listener["address"]["socket_address"]["port_value"])
        for listener in envoy["static_resources"]["listeners"]
    }
    gateway = next(
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "leoflow-api-gateway"
    )
    containers = gateway["spec"]["template"]["spec"]["containers"]
    env = container_env(next(c for c in containers if c["name"] == "api-gateway"), docs)
    for name in ("SCHEDULER", "XCOM", "LOGS"):
        value = env[f"LEOFLOW_GATEWAY_{name}_ADDRESS"]
        assert value.startswith(address) and value.rsplit(":", 1)[1] in ports
    envoys = [
        c
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("envoyproxy/envoy")
    ]
    assert envoys
    volumes = {
        v["configMap"]["name"]
        for d in docs
        if d["kind"] == "Deployment"
        for v in d["spec"]["template"]["spec"].get("volumes", [])
        if "configMap" in v
    }
    assert config_map["metadata"]["name"] in volumes
