"""Twilio's REST API for the calls Parley answers and places: end one, hand one over to a
number, place one. Through the official `twilio` package and its asyncio HTTP client, so
the event loop never waits on a request.

A `TwilioCalls` is made per use with one account's credentials (the deployment's, or the
Parley account's own) and closed after it. `api_url` moves the API (a test's fake of it, a
gateway); Twilio's own is the default. Failures raise `TelephonyError` with Twilio's
status and message, never the credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

TIMEOUT_S = 10.0
# The package logs every request at INFO (URLs, headers); a server's log wants none of it.
_HTTP_LOG = logging.getLogger("parley.providers.twilio_http")
_HTTP_LOG.setLevel(logging.WARNING)


class TelephonyError(Exception):
    """Twilio refused or could not be reached; `status` is its HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PlacedCall:
    sid: str
    status: str


def stream_twiml(url: str, parameters: dict[str, str]) -> str:
    """TwiML that connects the call to a bidirectional Media Stream at `url` (wss://), with
    `parameters` as the stream's custom parameters (Twilio drops a URL's query string)."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def say_twiml(text: str) -> str:
    """TwiML that says `text` and hangs up."""
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def dial_twiml(number: str) -> str:
    response = VoiceResponse()
    dial = Dial()
    if number.startswith("sip"):
        dial.sip(number)
    else:
        dial.number(number)
    response.append(dial)
    return str(response)


class TwilioCalls:
    def __init__(self, account_sid: str, auth_token: str, api_url: str) -> None:
        self._http = AsyncTwilioHttpClient(timeout=TIMEOUT_S, logger=_HTTP_LOG)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_url.rstrip("/")

    async def __aenter__(self) -> TwilioCalls:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.close()

    async def hang_up(self, call_sid: str) -> None:
        await self._update(call_sid, status="completed")

    async def transfer(self, call_sid: str, number: str) -> None:
        """The call leaves its media stream for `<Dial>` to the number."""
        await self._update(call_sid, twiml=dial_twiml(number))

    async def place(
        self,
        *,
        to: str,
        from_: str,
        twiml: str,
        machine_detection: str | None = None,
        status_callback: str | None = None,
    ) -> PlacedCall:
        options: dict[str, Any] = {}
        if machine_detection:
            options["machine_detection"] = machine_detection
        if status_callback:
            options["status_callback"] = status_callback
        try:
            call = await self._client.calls.create_async(to=to, from_=from_, twiml=twiml, **options)
        except TwilioRestException as exc:
            raise TelephonyError(str(exc.msg), exc.status) from None
        except (TwilioException, OSError, TimeoutError) as exc:
            raise TelephonyError(f"Twilio could not be reached: {type(exc).__name__}") from None
        return PlacedCall(str(call.sid), str(call.status))

    async def _update(self, call_sid: str, **fields: str) -> None:
        try:
            await self._client.calls(call_sid).update_async(**fields)
        except TwilioRestException as exc:
            raise TelephonyError(str(exc.msg), exc.status) from None
        except (TwilioException, OSError, TimeoutError) as exc:
            raise TelephonyError(f"Twilio could not be reached: {type(exc).__name__}") from None
