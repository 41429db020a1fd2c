"""`parley --url … --key …`: the CLI as a client of a running server, as a subprocess.

The server has its own data directory; the CLI's is another one, so whatever the CLI
shows came over the REST API, and what `agents` does without `--url` is visibly local.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.cli import free_port, parley, serving

KEY = "pk_cli_remote_tests_key_0123456789"


@dataclass
class Remote:
    url: str
    env: dict[str, str]  # the CLI's environment: a data directory of its own

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return parley(self.env, "--url", self.url, "--key", KEY, *args, ok=ok)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    base = tmp_path_factory.mktemp("remote")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env = {
        **clean,
        "PARLEY_DATA_DIR": str(base / "server"),
        "PARLEY_API_KEYS": KEY,
        "PARLEY_ADMISSION": "false",
    }
    with serving(env) as url:
        yield Remote(url, {**clean, "PARLEY_DATA_DIR": str(base / "cli")})


def test_agents_are_created_read_changed_and_deleted_over_rest(remote: Remote) -> None:
    created = json.loads(
        remote.run(
            *("agents", "create", "--name", "Front desk", "--prompt", "Greet visitors."),
            *("--greeting", "Welcome!", "--language", "en", "--json"),
        ).stdout
    )
    agent_id = created["id"]
    shown = remote.run("agents", "get", agent_id).stdout
    changed = json.loads(
        remote.run("agents", "update", agent_id, "--name", "Desk", "--json").stdout
    )
    listed = json.loads(remote.run("agents", "list", "--json").stdout)
    table = remote.run("agents", "list").stdout
    deleted = remote.run("agents", "delete", agent_id)
    gone = remote.run("agents", "get", agent_id, ok=False)

    assert (created["name"], created["greeting"], created["voice_id"]) == (
        "Front desk",
        "Welcome!",
        "default",
    )
    assert "Greet visitors." in shown and agent_id in shown
    assert changed["name"] == "Desk" and changed["system_prompt"] == "Greet visitors."
    assert agent_id in [a["id"] for a in listed["data"]] and listed["total"] >= 1
    assert agent_id in table and "Desk" in table  # the whole id, never cut short
    assert f"deleted {agent_id} (Desk)" in deleted.stderr
    assert gone.returncode == 1
    assert f"no agent '{agent_id}' (404 not_found)" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_a_body_file_with_flags_over_it_and_the_apis_refusal(
    remote: Remote, tmp_path: Path
) -> None:
    body = tmp_path / "agent.json"
    body.write_text(json.dumps({"name": "From file", "system_prompt": "p", "max_turns": 7}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "system_prompt": "p", "tools": 3}))

    created = json.loads(
        remote.run("agents", "create", "--file", str(body), "--name", "Flag", "--json").stdout
    )
    refused = remote.run("agents", "create", "--file", str(bad), ok=False)
    nothing = remote.run("agents", "update", created["id"], ok=False)

    assert (created["name"], created["max_turns"]) == ("Flag", 7)
    assert refused.returncode == 1
    assert "tools" in refused.stderr and "(422 invalid_request)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert nothing.returncode == 1 and "nothing to change" in nothing.stderr


def test_without_a_url_agents_stay_in_the_local_database(remote: Remote) -> None:
    remote.run("agents", "create", "--name", "Remote only", "--prompt", "p")

    local = json.loads(parley(remote.env, "agents", "list", "--json").stdout)
    on_server = json.loads(remote.run("agents", "list", "--json").stdout)
    get_locally = parley(remote.env, "agents", "get", "agt_x", ok=False)

    assert local == []  # the local listing's shape, of the CLI's own database
    assert "Remote only" in [a["name"] for a in on_server["data"]]
    assert get_locally.returncode == 1 and "give --url" in get_locally.stderr


def test_the_environment_names_the_server_and_the_key(remote: Remote) -> None:
    env = {**remote.env, "PARLEY_URL": remote.url, "PARLEY_KEY": KEY}
    parley(env, "agents", "create", "--name", "By env", "--prompt", "p")

    listed = json.loads(parley(env, "agents", "list", "--json").stdout)

    assert "By env" in [a["name"] for a in listed["data"]]


def test_refusals_and_unreachable_servers_are_one_line(remote: Remote) -> None:
    wrong_key = parley(remote.env, "--url", remote.url, "--key", "pk_wrong", "voices", ok=False)
    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = parley(remote.env, "--url", nobody, "--key", KEY, "agents", "list", ok=False)
    no_key = parley(remote.env, "--url", remote.url, "sessions", "list", ok=False)

    assert wrong_key.returncode == 1 and "(401 unauthorized)" in wrong_key.stderr
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().splitlines() == [
        f"error: cannot reach {nobody}: connection refused (is `parley serve` running there?)"
    ]
    assert no_key.returncode == 1 and "give --key" in no_key.stderr
    for result in (wrong_key, unreachable, no_key):
        assert "Traceback" not in result.stderr


def test_voices_are_the_servers(remote: Remote) -> None:
    listing = json.loads(remote.run("voices", "--json").stdout)
    table = remote.run("voices").stdout

    ids = [voice["id"] for voice in listing["data"]]
    assert ids and all({"id", "name", "language", "provider"} <= set(v) for v in listing["data"])
    assert f"{len(ids)} voice(s)" in table and ids[0] in table


def test_sessions_are_listed_read_and_their_recording_fetched(
    remote: Remote, tmp_path: Path
) -> None:
    agent = json.loads(
        remote.run("agents", "create", "--name", "Typed", "--prompt", "p", "--json").stdout
    )
    with httpx.Client(base_url=remote.url, headers={"Authorization": f"Bearer {KEY}"}) as api:
        first = api.post(f"/v1/agents/{agent['id']}/sessions").json()
        api.post(f"/v1/agents/{agent['id']}/sessions")

    listed = json.loads(remote.run("sessions", "list", "--agent", agent["id"], "--json").stdout)
    ended = json.loads(remote.run("sessions", "list", "--status", "ended", "--json").stdout)
    table = remote.run("sessions", "list", "--agent", agent["id"]).stdout
    shown = json.loads(remote.run("sessions", "get", first["session_id"], "--json").stdout)
    transcript = json.loads(
        remote.run("sessions", "transcript", first["session_id"], "--json").stdout
    )
    unknown = remote.run("sessions", "transcript", "ses_nope", ok=False)
    unrecorded = remote.run("sessions", "recording", first["session_id"], ok=False)

    assert listed["total"] == 2 and {s["agent_id"] for s in listed["data"]} == {agent["id"]}
    assert all(s["status"] == "ended" for s in ended["data"])
    assert first["session_id"] in table and "2 session(s)" in table
    assert (shown["session_id"], shown["status"]) == (first["session_id"], "active")
    assert transcript == []
    assert unknown.returncode == 1 and "(404 not_found)" in unknown.stderr
    assert unrecorded.returncode == 1 and "recording" in unrecorded.stderr
