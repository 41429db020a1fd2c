"""Play REST scenarios to a real server and judge every answer.

The oracles, per call: never a 5xx; a 4xx carries `{"error": {"code": str, "message": str}}`;
a 2xx is JSON; nothing is logged at ERROR level. What a call created is read back at once
(`GET` of the agent or session, its messages, the lists), because input that is accepted
but cannot be read back (a lone surrogate stored in a name) fails only then.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fuzz.frames import nasty_in
from tests.fuzz.oracles import BadError, Crashed, Findings, ServerError
from tests.fuzz.rest_requests import Call
from tests.fuzz.server import LiveServer

TALLY = [0, 0]  # scenarios, requests


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def strict_json(content: bytes) -> Any:
    """JSON as RFC 8259 has it: UTF-8 (no lone surrogates), no NaN or Infinity tokens."""
    text = content.decode("utf-8")
    value = json.loads(text, parse_constant=_no_constants)
    if nasty_in(value) == "lone surrogate":
        raise ValueError("a lone surrogate (\\ud800…) is not a Unicode character")
    return value


def _reads(call: Call, answer: Any) -> list[Call]:
    """The reads that show whether what `call` created can be served back."""
    if not isinstance(answer, dict):
        return []
    if call.path == "/v1/agents" and isinstance(answer.get("id"), str):
        return [Call("GET", f"/v1/agents/{answer['id']}")]
    if call.path.endswith("/sessions") or call.path == "/v1/voice":
        session = answer.get("session_id")
        if isinstance(session, str):
            return [
                Call("GET", f"/v1/sessions/{session}"),
                Call("GET", f"/v1/sessions/{session}/messages"),
            ]
    return []


def _judge(findings: Findings, call: Call, response: httpx.Response) -> Any:
    where = f"{call!r} → {response.status_code} {response.text[:300]!r}"
    if response.status_code >= 500:
        findings.fail(ServerError, where)
        return None
    try:
        answer = strict_json(response.content) if response.content else None
    except ValueError as exc:
        findings.fail(BadError, f"not valid JSON ({exc}): {where}")
        return None
    if response.status_code >= 400:
        error = answer.get("error") if isinstance(answer, dict) else None
        if not (
            isinstance(error, dict)
            and isinstance(error.get("code"), str)
            and isinstance(error.get("message"), str)
        ):
            findings.fail(BadError, f"not the error shape: {where}")
    return answer


def play(server: LiveServer, calls: list[Call]) -> Findings:
    """Run a scenario on a fresh account; raise the worst `FuzzFailure` found."""
    server.errors.check_attached()
    findings = Findings()
    made: dict[str, str] = {}
    key = server.new_key()
    headers = {"Authorization": f"Bearer {key}"}
    # a connection per request: on a kept-alive one each answer waits out a delayed ACK
    # (Nagle on the server's side), 40 ms a request
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(
        base_url=server.base_url, headers=headers, trust_env=False, timeout=20, limits=fresh
    ) as client:
        pending = list(calls)
        pending += [
            Call("GET", "/v1/agents", "limit=100"),
            Call("GET", "/v1/sessions", "limit=100"),
        ]
        while pending:
            call = pending.pop(0)
            path = call.path.replace("{agent}", made.get("agent", "agt_none"))
            path = path.replace("{session}", made.get("session", "ses_none"))
            url = f"{path}?{call.query}" if call.query else path
            extra = {"content-type": call.content_type} if call.content_type else {}
            TALLY[1] += 1
            try:
                response = client.request(call.method, url, content=call.body, headers=extra)
            except httpx.TransportError as exc:  # the server dropped the connection: no answer
                findings.fail(ServerError, f"{call!r} → no response ({exc!r})")
                response = None
            answer = _judge(findings, call, response) if response is not None else None
            server.settle()  # a handler may log after it has answered
            for record in server.errors.take():
                findings.fail(Crashed, f"after {call!r}: {record}")
            if response is None:
                continue
            if response.is_success and call.method == "POST":
                if isinstance(answer, dict) and isinstance(answer.get("id"), str):
                    made["agent"] = answer["id"]
                if isinstance(answer, dict) and isinstance(answer.get("session_id"), str):
                    made["session"] = answer["session_id"]
                pending[:0] = _reads(call, answer)
    TALLY[0] += 1
    findings.raise_worst()
    return findings
