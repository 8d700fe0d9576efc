"""deploy/compose.yaml and the collector's Dockerfile, checked without Docker.

This machine has no Docker daemon, so what can be checked is static: it parses,
it runs the five parts, every file it mounts from the repository exists and
every file an operator creates is named in docs/install-central.md, images and
Python dependencies are pinned, every service has a healthcheck and waits for
the health of what it needs, no secret is written into the file, nothing is
mounted inside another mount, and the container paths are the ones the mounted
configs name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCS = DEPLOY.parent / "docs" / "install-central.md"
DOCKERFILE = DEPLOY / "docker" / "collector.Dockerfile"
# Created by the operator before the first start (secrets, their registry).
OPERATOR_PREFIXES = ("secrets/", "fleet.toml")
# What each service needs healthy before it starts.
NEEDS = {"collector": {"mosquitto"}, "prometheus": {"collector", "alertmanager"},
         "grafana": {"prometheus"}}


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path relative to deploy/, container path) for every bind mount."""
    mounts = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts.append((name, str(Path(source)), target))
    return mounts


def secret_mounts() -> list[tuple[str, str, str]]:
    """(service, host file relative to deploy/, container path) for every secret."""
    files = {k: v["file"] for k, v in compose()["secrets"].items()}
    mounts = []
    for name, service in compose()["services"].items():
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            target = f"/run/secrets/{source}" if isinstance(secret, str) else secret["target"]
            mounts.append((name, str(Path(files[source])), target))
    return mounts


def targets(service: str) -> set[str]:
    return {t for s, _, t in bind_mounts() + secret_mounts() if s == service}


def test_runs_the_five_parts_on_host_network() -> None:
    services = compose()["services"]
    assert set(services) == {"mosquitto", "collector", "prometheus", "alertmanager", "grafana"}
    # The configs name their neighbours as 127.0.0.1 (prometheus.yml, the datasource).
    assert all(s["network_mode"] == "host" for s in services.values())


@pytest.mark.parametrize(("service", "source", "target"), bind_mounts() + secret_mounts(),
                         ids=[f"{s}:{src}" for s, src, _ in bind_mounts() + secret_mounts()])
def test_mounted_file_exists_or_is_documented(service: str, source: str, target: str) -> None:
    if source.startswith(OPERATOR_PREFIXES):
        assert f"`deploy/{source}`" in DOCS.read_text(), \
            f"{source}: say in docs/install-central.md how to create it"
    else:
        assert (DEPLOY / source).exists(), f"{service} mounts {source}, which does not exist"


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_no_mount_inside_another(service: str) -> None:
    """Docker cannot make a mount point inside a read-only bind mount (the registry once
    sat inside /etc/pantau mounted read-only), and a nested mount hides files."""
    paths = sorted(targets(service))
    nested = [(a, b) for a in paths for b in paths if b != a and b.startswith(a.rstrip("/") + "/")]
    assert nested == []


def test_images_are_pinned_and_the_build_recipe_exists() -> None:
    for name, service in compose()["services"].items():
        tag = service["image"].rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, f"{name}: pin the image version"
        if "build" in service:
            build = service["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_every_service_checks_its_health(service: str) -> None:
    spec = compose()["services"][service]
    if "build" in spec:  # the image's own HEALTHCHECK
        assert re.search(r"^HEALTHCHECK .*CMD", DOCKERFILE.read_text().replace("\\\n", " "),
                         re.M)
    else:
        test = spec["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1


@pytest.mark.parametrize(("service", "needs"), sorted(NEEDS.items()))
def test_services_start_after_what_they_need_is_healthy(service: str, needs: set[str]) -> None:
    depends = compose()["services"][service]["depends_on"]
    assert set(depends) == needs
    assert all(d["condition"] == "service_healthy" for d in depends.values())


def test_no_secret_in_the_file_and_grafana_not_open() -> None:
    for name, service in compose()["services"].items():
        for key, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|KEY", key):
                assert key.endswith("__FILE") and str(value).startswith("/run/secrets/"), \
                    f"{name}: {key} must name a secret file, not hold the secret"
    grafana = compose()["services"]["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana
    assert grafana["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    for name in ("prometheus", "alertmanager"):
        assert "--web.listen-address=127.0.0.1:" in " ".join(
            compose()["services"][name]["command"]), name


def test_container_paths_match_the_configs() -> None:
    # The drop-in names its TLS, password and ACL files under /etc/mosquitto/pantau,
    # and the main file includes it from conf.d.
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().split("\n")
    wanted = {line.split()[1] for line in conf
              if line.split()[:1] in (["cafile"], ["certfile"], ["keyfile"], ["password_file"],
                                      ["acl_file"])}
    assert wanted and wanted <= targets("mosquitto")
    main = (DEPLOY / "docker" / "mosquitto.conf").read_text()
    (include,) = re.findall(r"^include_dir (\S+)", main, re.M)
    assert f"{include}/pantau.conf" in targets("mosquitto")
    # prometheus.yml's rule files sit next to it; its scrape job's CA and password are mounted.
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert {f"/etc/prometheus/{r}" for r in prom["rule_files"]} <= targets("prometheus")
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "pantau-collector"]
    assert {job["tls_config"]["ca_file"], job["basic_auth"]["password_file"]} <= \
        targets("prometheus")
    # alertmanager.yml reads its secrets from files that are mounted.
    alerting = (DEPLOY / "alertmanager" / "alertmanager.yml").read_text()
    needed = set(re.findall(r"^\s*\w+_file: (/etc/prometheus/secrets/\S+)$", alerting, re.M))
    assert needed and needed <= targets("alertmanager")
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "pantau.yml").read_text())
    assert provider["providers"][0]["options"]["path"] in targets("grafana")
    # The collector reads the files step 3 of the Debian install names.
    assert {"/etc/pantau/collector.toml", "/etc/pantau/fleet.toml", "/etc/pantau/ca.crt",
            "/etc/pantau/collector.password", "/etc/pantau/http/collector.crt",
            "/etc/pantau/http/collector.key", "/etc/pantau/http/users"} <= targets("collector")


def test_dockerfile_is_pinned_unprivileged_and_checks_health() -> None:
    text = DOCKERFILE.read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.search(r":\d+\.\d+\.\d+-|@sha256:[0-9a-f]{64}$", base), \
        f"{base}: pin an exact version or a digest"
    (install,) = [line for line in text.splitlines() if "pip install" in line]
    assert "--constraint constraints.txt" in install and "COPY deploy/constraints.txt" in text
    (user,) = re.findall(r"^USER (\S+)", text, re.M)
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user}: a fixed uid:gid, not root"
    assert f"--uid {user.split(':')[0]}" in text
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "COPY stack" not in text and "COPY agent" not in text
