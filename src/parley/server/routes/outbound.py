"""`POST /v1/calls/outbound`: an agent phones someone.

Twilio places the call (its REST API, with the account's or the deployment's credentials)
with TwiML that opens the same Media Stream an incoming call does. The callee speaks first
by default (they answer "hello?"); `first_speaker: "agent"` has the agent greet at once.
`machine_detection` is passed to Twilio as asked (`Enable` / `DetectMessageEnd`).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from parley.providers.telephony import TelephonyError, TwilioCalls
from parley.server import telephony
from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.routes.phone_numbers import E164

log = logging.getLogger("parley.server")
router = APIRouter(tags=["phone calls (Twilio)"])


class OutboundCall(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent_id: str = Field(min_length=1, max_length=40)
    to: str = Field(pattern=E164)
    from_: str = Field(alias="from", pattern=E164, description="a number of your Twilio account")
    first_speaker: Literal["user", "agent"] = "user"
    machine_detection: Literal["Enable", "DetectMessageEnd"] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=50)


class OutboundCallOut(BaseModel):
    session_id: str
    call_sid: str
    status: str
    to: str
    from_: str = Field(serialization_alias="from")


@router.post(
    "/v1/calls/outbound",
    status_code=201,
    response_model=OutboundCallOut,
    response_model_by_alias=True,
    responses=errors(404, 409, 429, 502, 503),
)
async def place_call(
    body: OutboundCall, request: Request, account: AccountDep, found: ServicesDep
) -> OutboundCallOut:
    agent = await found.store.agents.get(account.id, body.agent_id)
    if agent is None:
        raise not_found("agent", body.agent_id)
    if agent.status != "active":
        raise ApiError(409, "agent_paused", f"agent {agent.id!r} is paused; activate it first")
    credentials = await telephony.credentials_for(found, account.id)
    if credentials is None:
        raise ApiError(
            409,
            "telephony_unconfigured",
            "no Twilio credentials: PUT /v1/telephony/twilio, or set PARLEY_TWILIO_ACCOUNT_SID "
            "and PARLEY_TWILIO_AUTH_TOKEN",
        )
    await found.check_room(account.id)
    phone = {"provider": "twilio", "direction": "outbound", "from": body.from_, "to": body.to}
    session, twiml = await telephony.prepare_call(
        request,
        found,
        account_id=account.id,
        agent_id=agent.id,
        phone=phone,
        callee_first=body.first_speaker == "user",
        metadata=body.metadata,
    )
    api_url = found.settings.twilio_api_url
    try:
        async with TwilioCalls(credentials.account_sid, credentials.auth_token, api_url) as calls:
            placed = await calls.place(
                to=body.to, from_=body.from_, twiml=twiml, machine_detection=body.machine_detection
            )
    except TelephonyError as exc:
        await found.store.sessions.end(session.id, "error")
        log.warning("Twilio refused an outbound call: %s", exc)
        raise ApiError(502, "twilio_error", f"Twilio did not place the call: {exc}") from None
    await found.store.sessions.add_metadata(
        session.id, {"phone": {**phone, "call_sid": placed.sid}}
    )
    return OutboundCallOut(
        session_id=session.id,
        call_sid=placed.sid,
        status=placed.status,
        to=body.to,
        from_=body.from_,
    )
