"""The `parley` console script, run as a real subprocess against a real database."""

from __future__ import annotations

import json
import subprocess
import time

import httpx

from tests.support.cli import PARLEY, free_port, parley


def test_keys_create_prints_a_working_key_once(cli_env: dict[str, str]) -> None:
    created = parley(cli_env, "keys", "create", "--name", "laptop")
    key = created.stdout.strip()

    assert key.startswith("pk_") and len(key) > 40
    assert "shown once" in created.stderr
    listing = parley(cli_env, "keys", "list").stdout
    assert key[:7] in listing and key not in listing and "laptop" in listing


def test_agents_are_created_and_listed_for_the_keys_account(cli_env: dict[str, str]) -> None:
    key = parley(cli_env, "keys", "create", "--new-account", "acme").stdout.strip()

    created = json.loads(
        parley(
            cli_env,
            "agents",
            "create",
            "--key",
            key,
            "--name",
            "Front desk",
            "--system-prompt",
            "Greet visitors.",
            "--greeting",
            "Welcome!",
        ).stdout
    )
    listed = json.loads(parley(cli_env, "agents", "list", "--key", key, "--json").stdout)
    default_account = json.loads(parley(cli_env, "agents", "list", "--json").stdout)

    assert created["id"].startswith("agt_")
    assert created["voice_id"] == "default"
    assert [a["id"] for a in listed] == [created["id"]]
    assert default_account == [], "another account's agents are not listed"


def test_agents_create_reports_invalid_fields_without_a_traceback(
    cli_env: dict[str, str],
) -> None:
    result = parley(cli_env, "agents", "create", "--name", "x", ok=False)

    assert result.returncode == 1
    assert "system_prompt: Field required" in result.stderr
    assert "Traceback" not in result.stderr


def test_revoked_keys_are_refused_by_the_cli(cli_env: dict[str, str]) -> None:
    key = parley(cli_env, "keys", "create").stdout.strip()
    [listed] = json.loads(parley(cli_env, "keys", "list", "--json").stdout)
    parley(cli_env, "keys", "revoke", listed["id"])

    result = parley(cli_env, "agents", "list", "--key", key, ok=False)

    assert result.returncode == 1 and "not valid" in result.stderr


def test_serve_runs_the_api_on_the_given_port(cli_env: dict[str, str]) -> None:
    port = free_port()
    env = {**cli_env, "PARLEY_API_KEYS": "pk_cli_serve_test_key"}
    server = subprocess.Popen(
        [*PARLEY, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        agents = httpx.get(
            f"{base}/v1/agents", headers={"Authorization": "Bearer pk_cli_serve_test_key"}
        )
    finally:
        server.terminate()
        server.wait(timeout=15)

    assert health.status_code == 200 and health.json()["database"] == "sqlite"
    assert agents.status_code == 200 and agents.json()["total"] == 0
