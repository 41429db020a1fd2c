"""The deploy files describe a setup that can work: the YAML parses, every Parley setting
they name exists, probes and health checks point at real routes, the grace periods cover
the drain, and the image runs as a user that is not root."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from parley.config import Settings
from parley.server.app import create_app

DEPLOY = Path(__file__).parent.parent / "deploy"
SETTINGS = {f"PARLEY_{name.upper()}" for name in Settings.model_fields}


def documents() -> dict[str, list[Any]]:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
        for path in [DEPLOY / "compose.yaml", *(DEPLOY / "kubernetes").glob("*.yaml")]
    }


def named_settings() -> set[str]:
    text = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file() and p.suffix != ".md")
    return set(re.findall(r"\bPARLEY_[A-Z0-9_]+", text))


def routes() -> set[str]:
    return set(create_app(Settings()).openapi()["paths"])


def test_every_file_parses_and_names_only_real_settings() -> None:
    assert documents()
    assert named_settings() - SETTINGS == set()


def test_probes_and_health_checks_point_at_real_routes() -> None:
    known = routes()
    [deployment] = [d for d in documents()["parley.yaml"] if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    probes = {name: container[name]["httpGet"]["path"] for name in container if "Probe" in name}
    assert probes["readinessProbe"] == "/readyz" and probes["livenessProbe"] == "/healthz"
    assert set(probes.values()) <= known
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"health_uri (\S+)", caddy).group(1) in known  # type: ignore[union-attr]
    docker = (DEPLOY / "Dockerfile").read_text()
    assert "/healthz" in docker and "USER parley" in docker


@pytest.mark.parametrize("where", ["kubernetes", "compose"])
def test_the_grace_period_covers_the_drain(where: str) -> None:
    files = documents()
    if where == "kubernetes":
        [config] = [d for d in files["parley.yaml"] if d["kind"] == "ConfigMap"]
        [deployment] = [d for d in files["parley.yaml"] if d["kind"] == "Deployment"]
        drain = float(config["data"]["PARLEY_DRAIN_SECONDS"])
        grace = float(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
    else:
        [compose] = files["compose.yaml"]
        service = compose["services"]["parley-a"]
        drain = float(service["environment"]["PARLEY_DRAIN_SECONDS"])
        grace = float(service["stop_grace_period"].rstrip("s"))
    assert grace >= drain + 10  # the drain, then goodbyes and the exit


def test_the_compose_file_runs_two_instances_behind_a_proxy() -> None:
    [compose] = documents()["compose.yaml"]
    services = compose["services"]
    parleys = [name for name in services if name.startswith("parley")]
    assert len(parleys) >= 2 and {"postgres", "redis", "proxy"} <= set(services)
    for name in parleys:
        environment = services[name]["environment"]
        url = environment["PARLEY_DATABASE_URL"]
        assert url.startswith("postgresql://") and "@postgres:" in url
        assert environment["PARLEY_REDIS_URL"].startswith("redis://redis:")
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert all(f"{name}:8000" in caddy for name in parleys)
