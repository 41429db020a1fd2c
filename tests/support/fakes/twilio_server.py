"""A local fake of Twilio's REST API (2010-04-01 Calls), speaking its JSON.

It checks HTTP Basic auth (account SID : auth token) as Twilio does, answers `POST
/2010-04-01/Accounts/{sid}/Calls.json` (place a call: `To`, `From`, `Twiml`,
`MachineDetection`) with a call resource, and `POST …/Calls/{CallSid}.json` (`Status`,
`Twiml`) with the updated one; an unknown call is Twilio's 20404 error. Every request is
recorded; `placed` is set whenever a call is placed so a test can "answer" it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    status: str = "in-progress"
    twiml: str = ""
    machine_detection: str | None = None
    updates: list[dict[str, str]] = field(default_factory=list)


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.calls: dict[str, FakeCall] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, form
        self.placed: asyncio.Queue[FakeCall] = asyncio.Queue()
        self.updated: asyncio.Queue[FakeCall] = asyncio.Queue()
        base = "/2010-04-01/Accounts/{account}/Calls"
        self.app = Starlette(
            routes=[
                Route(base + ".json", self._create, methods=["POST"]),
                Route(base + "/{sid}.json", self._update, methods=["POST"]),
            ]
        )

    def incoming(self, to: str, from_: str) -> FakeCall:
        """A call that comes in to one of the account's numbers (its SID for the webhook)."""
        call = FakeCall(call_sid(), to, from_)
        self.calls[call.sid] = call
        return call

    def _refusal(self, request: Request) -> JSONResponse | None:
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        given = request.headers.get("authorization", "")
        if given != "Basic " + base64.b64encode(expected).decode():
            return _error(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        return None

    async def _create(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(("POST", request.url.path, form))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if not form.get("To") or not form.get("From") or not (form.get("Twiml") or form.get("Url")):
            return _error(400, 21201, "No 'To', 'From' or 'Twiml'/'Url' number is specified")
        call = FakeCall(
            call_sid(),
            form["To"],
            form["From"],
            status="queued",
            twiml=form.get("Twiml", ""),
            machine_detection=form.get("MachineDetection"),
        )
        self.calls[call.sid] = call
        self.placed.put_nowait(call)
        return JSONResponse(self._resource(call), status_code=201)

    async def _update(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(("POST", request.url.path, form))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        call = self.calls.get(request.path_params["sid"])
        if call is None:
            return _error(404, 20404, "The requested resource was not found")
        call.updates.append(form)
        if "Status" in form:
            call.status = form["Status"]
        if "Twiml" in form:
            call.twiml = form["Twiml"]
        self.updated.put_nowait(call)
        return JSONResponse(self._resource(call))

    def _resource(self, call: FakeCall) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json"
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "answered_by": None,
            "date_created": "Wed, 02 Dec 2026 12:00:00 +0000",
            "date_updated": "Wed, 02 Dec 2026 12:00:00 +0000",
            "uri": uri,
        }


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)
