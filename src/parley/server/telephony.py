"""The server's side of phone calls: whose Twilio credentials a call uses, whether a webhook
really came from Twilio, the one-call session a call joins, and the call control the media
stream asks for.

Credentials: an account that gave its own (`PUT /v1/telephony/twilio`) uses them, for its
numbers' webhooks and for its calls; any other uses the deployment's
(`PARLEY_TWILIO_ACCOUNT_SID` / `PARLEY_TWILIO_AUTH_TOKEN`). A webhook is accepted only with a
valid `X-Twilio-Signature` for those credentials' auth token (`twilio`'s
`RequestValidator`), over the URL Twilio called: `PARLEY_PUBLIC_URL` + path behind a proxy,
else the request's own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from twilio.request_validator import RequestValidator

from parley.credentials import new_session_token
from parley.providers.telephony import TelephonyError, TwilioCalls, stream_twiml
from parley.server.deps import Services
from parley.server.urls import websocket_url
from parley.store.phones import TwilioCredentials
from parley.store.tables import Session

log = logging.getLogger("parley.server")

MEDIA_PATH = "/telephony/twilio/media"
JOIN_WITHIN_S = 120.0  # an outbound call may ring for a while before the stream opens


async def credentials_for(found: Services, account_id: str | None) -> TwilioCredentials | None:
    if account_id is not None:
        own = await found.store.phones.twilio(account_id)
        if own is not None:
            return own
    settings = found.settings
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return TwilioCredentials(settings.twilio_account_sid, settings.twilio_auth_token)
    return None


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: the one it was configured with, which behind a proxy is the
    public one, not the one this process sees."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return f"{public_url}{request.url.path}" + (f"?{query}" if query else "")


def signature_valid(
    request: Request, form: dict[str, str], auth_token: str, public_url: str | None
) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(signed_url(request, public_url), form, signature))


async def prepare_call(
    request: Request,
    found: Services,
    *,
    account_id: str,
    agent_id: str,
    phone: dict[str, Any],
    callee_first: bool,
    metadata: dict[str, Any] | None = None,
) -> tuple[Session, str]:
    """A session the call's media stream joins once, and the TwiML that opens the stream."""
    token = new_session_token()
    start: dict[str, Any] = {"callee_first": callee_first}
    if phone.get("call_sid"):
        start["call_sid"] = phone["call_sid"]
    session = await found.store.sessions.create(
        account_id=account_id,
        agent_id=agent_id,
        ttl=JOIN_WITHIN_S,
        token=token,
        metadata={**(metadata or {}), "phone": phone},
        start=start,
        dialect="twilio",
    )
    path = f"{MEDIA_PATH}/{session.id}"  # a path, not a query: Twilio drops query strings
    url = websocket_url(request, found.settings.public_url, path).removesuffix("?")
    return session, stream_twiml(url, {"token": token, "session_id": session.id})


class ServerCallControl:
    """`CallControl` for the media stream: Twilio's REST API with the account's credentials.
    A failure is logged; the stream closes anyway, which ends the call's `<Connect>`."""

    def __init__(self, found: Services) -> None:
        self._found = found

    async def hang_up(self, account_id: str, call_sid: str) -> None:
        await self._do(account_id, call_sid, "hang up", lambda calls: calls.hang_up(call_sid))

    async def transfer(self, account_id: str, call_sid: str, to: str) -> None:
        await self._do(account_id, call_sid, "transfer", lambda calls: calls.transfer(call_sid, to))

    async def _do(
        self,
        account_id: str,
        call_sid: str,
        what: str,
        action: Callable[[TwilioCalls], Awaitable[None]],
    ) -> None:
        try:
            credentials = await credentials_for(self._found, account_id)
            if credentials is None:
                raise TelephonyError("no Twilio credentials for this account")
            api_url = self._found.settings.twilio_api_url
            async with TwilioCalls(
                credentials.account_sid, credentials.auth_token, api_url
            ) as calls:
                await action(calls)
        except TelephonyError as exc:
            log.warning("could not %s call %s through Twilio: %s", what, call_sid, exc)
