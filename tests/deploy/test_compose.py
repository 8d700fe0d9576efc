"""deploy/compose.yaml, checked without Docker (this machine has no Docker daemon).

What can be checked statically is: it parses, it runs the five parts, every
file it mounts from the repository exists, the files an operator creates are
named in docs/install-central.md, images are pinned, the build recipe exists,
and the container paths match what the mounted configs expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCS = DEPLOY.parent / "docs" / "install-central.md"
# Created by the operator before the first start (secrets, their registry).
OPERATOR_FILES = {"secrets/mosquitto/ca.crt", "secrets/mosquitto/broker.crt",
                  "secrets/mosquitto/broker.key", "secrets/mosquitto/passwd",
                  "secrets/collector", "secrets/alertmanager", "fleet.toml"}


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


def test_runs_the_five_parts_on_host_network() -> None:
    services = compose()["services"]
    assert set(services) == {"mosquitto", "collector", "prometheus", "alertmanager", "grafana"}
    # The configs name their neighbours as 127.0.0.1 (prometheus.yml, the datasource).
    assert all(s["network_mode"] == "host" for s in services.values())


@pytest.mark.parametrize(("service", "source", "target"), bind_mounts(),
                         ids=[f"{s}:{src}" for s, src, _ in bind_mounts()])
def test_mounted_file_exists_or_is_documented(service: str, source: str, target: str) -> None:
    if source in OPERATOR_FILES:
        assert f"deploy/{source}" in DOCS.read_text(), f"{source}: say how to create it"
    else:
        assert (DEPLOY / source).exists(), f"{service} mounts {source}, which does not exist"


def test_images_are_pinned_and_the_build_recipe_exists() -> None:
    for name, service in compose()["services"].items():
        tag = service["image"].rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, f"{name}: pin the image version"
        if "build" in service:
            build = service["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_container_paths_match_the_configs() -> None:
    targets = {(s, t) for s, _, t in bind_mounts()}
    # mosquitto.conf names its TLS, password and ACL files under /etc/mosquitto/pantau.
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().split("\n")
    wanted = {line.split()[1] for line in conf
              if line.split()[:1] in (["cafile"], ["certfile"], ["keyfile"], ["password_file"],
                                      ["acl_file"])}
    assert wanted and wanted <= {t for s, t in targets if s == "mosquitto"}
    # prometheus.yml's rule files sit next to it; the dashboard provider's path is mounted.
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert {f"/etc/prometheus/{r}" for r in prom["rule_files"]} <= \
        {t for s, t in targets if s == "prometheus"}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "pantau.yml").read_text())
    assert provider["providers"][0]["options"]["path"] in {t for s, t in targets
                                                           if s == "grafana"}
