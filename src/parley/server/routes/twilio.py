"""Twilio's side of a phone call: the voice webhook and the Media Stream it opens.

`POST /telephony/twilio/voice` is the number's "A call comes in" webhook. A request without
a valid `X-Twilio-Signature` is refused (403, JSON); a number Parley does not know, a
paused agent or a full deployment gets a polite `<Say>` and a hang-up; otherwise the answer
is TwiML that connects the call to `/telephony/twilio/media` with a one-call token, and the
caller talks to the number's agent. The session records the call's numbers and ids
(`metadata.phone`).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from parley.dialects.twilio.session import TwilioSession
from parley.providers.telephony import say_twiml
from parley.server import telephony
from parley.server.deps import ServicesDep
from parley.server.errors import ApiError
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket, connection_limits

log = logging.getLogger("parley.server")
router = APIRouter(tags=["phone calls (Twilio)"])

NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
NOT_AVAILABLE = "Sorry, no one can take your call right now. Please call again later."
BUSY = "Sorry, all our lines are busy. Please call again in a few minutes."
MAX_FORM_FIELDS = 100


def _twiml(xml: str) -> Response:
    return Response(xml, media_type="text/xml")


def _refused(message: str) -> JSONResponse:
    body = {"error": {"code": "forbidden", "message": message}}
    return JSONResponse(body, status_code=403)


@router.post(
    "/telephony/twilio/voice",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}, "description": "TwiML"}, 403: {}},
)
async def voice_webhook(request: Request, found: ServicesDep) -> Response:
    """Twilio's voice webhook (form-encoded `CallSid`, `AccountSid`, `From`, `To`, …)."""
    submitted = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    form = {key: value for key, value in submitted.items() if isinstance(value, str)}
    called = form.get("To", "")
    number = await found.store.phones.by_number(called) if called else None
    credentials = await telephony.credentials_for(found, number.account_id if number else None)
    if credentials is None:
        return _refused("no Twilio auth token is configured to check this request with")
    if not telephony.signature_valid(
        request, form, credentials.auth_token, found.settings.public_url
    ):
        log.warning("refused a Twilio webhook with a missing or wrong signature")
        return _refused("the X-Twilio-Signature header is missing or wrong")
    if form.get("AccountSid", credentials.account_sid) != credentials.account_sid:
        return _refused("this webhook is from another Twilio account")
    if number is None:
        return _twiml(say_twiml(NOT_IN_SERVICE))
    agent = await found.store.agents.get(number.account_id, number.agent_id)
    if agent is None or agent.status != "active":
        return _twiml(say_twiml(NOT_AVAILABLE))
    try:
        await found.check_room(number.account_id)
    except ApiError as full:
        log.warning("turned a phone call away: %s", full.message)
        return _twiml(say_twiml(BUSY))
    phone = {
        "provider": "twilio",
        "direction": "inbound",
        "call_sid": form.get("CallSid", ""),
        "from": form.get("From", ""),
        "to": called,
    }
    _session, twiml = await telephony.prepare_call(
        request,
        found,
        account_id=number.account_id,
        agent_id=agent.id,
        phone=phone,
        callee_first=False,
    )
    return _twiml(twiml)


@router.websocket(telephony.MEDIA_PATH + "/{session_id}")
async def media_stream(websocket: WebSocket, session_id: str, found: ServicesDep) -> None:
    """The bidirectional Media Stream of the call whose session the path names; its
    `start` carries that call's token. A path naming no call waiting for its stream is
    refused at the handshake (401)."""
    if not await found.store.sessions.awaiting(session_id[:40], "twilio"):
        body = {"error": {"code": "unauthorized", "message": "no phone call awaits this stream"}}
        await websocket.send_denial_response(JSONResponse(body, status_code=401))
        return
    host = ServerHost(found)
    try:
        await websocket.accept()
        limits = connection_limits(found.settings)
        control = telephony.ServerCallControl(found)
        socket = StarletteSocket(websocket)
        await TwilioSession(socket, host, limits, control, session_id).run()
    finally:
        host.release()
