"""Twilio's voice webhook: a signed request for a number Parley knows is answered with TwiML
that opens the call's Media Stream; anything else is refused or politely hung up on."""

from __future__ import annotations

from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from parley.bench.phone import read_twiml
from tests.dialects.twilio_support import CALLER, NUMBER, Phone, auth, phone, phone_server
from tests.support.fakes.twilio_server import AUTH_TOKEN

__all__ = ["phone"]  # the fixture


async def test_a_signed_call_to_a_known_number_gets_a_stream_to_its_agent(phone: Phone) -> None:
    agent = await phone.agent()
    await phone.number(agent["id"])
    call = phone.twilio.incoming(NUMBER, CALLER)

    answer = await phone.ring(call)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    stream = read_twiml(answer.text)
    session_id = stream.parameters["session_id"]
    media = phone.base_url.replace("http://", "ws://") + "/telephony/twilio/media/"
    assert stream.url == media + session_id
    assert stream.parameters["token"].startswith("st_")
    session = await phone.rest.get_session(session_id)
    assert session["agent_id"] == agent["id"]
    assert session["metadata"]["phone"] == {
        "provider": "twilio",
        "direction": "inbound",
        "call_sid": call.sid,
        "from": CALLER,
        "to": NUMBER,
    }


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
async def test_a_webhook_without_a_valid_signature_is_refused(phone: Phone, signature: str) -> None:
    agent = await phone.agent()
    await phone.number(agent["id"])

    answer = await phone.ring(phone.twilio.incoming(NUMBER, CALLER), signature=signature)

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


async def test_a_webhook_signed_with_another_token_or_from_another_account_is_refused(
    phone: Phone,
) -> None:
    agent = await phone.agent()
    await phone.number(agent["id"])
    call = phone.twilio.incoming(NUMBER, CALLER)

    wrong_token = await phone.ring(call, token="f" * 32)
    other_account = await phone.ring(call, account_sid="AC" + "f" * 32)

    assert wrong_token.status_code == 403
    assert other_account.status_code == 403


async def test_an_unknown_number_gets_a_polite_goodbye(phone: Phone) -> None:
    answer = await phone.ring(phone.twilio.incoming("+15550009999", CALLER))

    assert answer.status_code == 200
    assert "<Say>" in answer.text and "not in service" in answer.text
    assert "<Hangup" in answer.text and "<Stream" not in answer.text


async def test_a_paused_agent_is_not_put_through(phone: Phone) -> None:
    agent = await phone.agent()
    await phone.number(agent["id"])
    await phone.rest.update_agent(agent["id"], status="paused")

    answer = await phone.ring(phone.twilio.incoming(NUMBER, CALLER))

    assert "<Say>" in answer.text and "<Stream" not in answer.text


async def test_behind_a_proxy_the_public_url_is_what_twilio_signed(tmp_path: Path) -> None:
    public = "https://voice.example.com"
    async with phone_server(tmp_path, public_url=public) as front:
        agent = await front.agent()
        await front.number(agent["id"])
        call = front.twilio.incoming(NUMBER, CALLER)

        as_public = await front.ring(call, url=public + "/telephony/twilio/voice")
        as_local = await front.ring(call)

    assert as_public.status_code == 200
    stream = read_twiml(as_public.text)
    media = "wss://voice.example.com/telephony/twilio/media/"
    assert stream.url == media + stream.parameters["session_id"]
    assert as_local.status_code == 403


async def test_an_account_with_its_own_twilio_credentials_is_checked_with_its_token(
    tmp_path: Path,
) -> None:
    own_sid, own_token = "AC" + "ab" * 16, "1234567890abcdef1234567890abcdef"
    key = "dGhpcnR5LXR3by1ieXRlcy1vZi1hLWZlcm5ldC1rZXk="  # a Fernet key: 32 bytes, base64
    async with phone_server(tmp_path, secret_key=key) as front:
        put = await front.http.put(
            "/v1/telephony/twilio",
            json={"account_sid": own_sid, "auth_token": own_token},
            headers=auth(),
        )
        shown = await front.http.get("/v1/telephony/twilio", headers=auth())
        agent = await front.agent()
        await front.number(agent["id"])
        call = front.twilio.incoming(NUMBER, CALLER)

        with_server_token = await front.ring(call)
        with_own_token = await front.ring(call, token=own_token, account_sid=own_sid)

    assert put.status_code == 200 and shown.json() == {"account_sid": own_sid}
    assert own_token not in put.text + shown.text
    assert with_server_token.status_code == 403
    assert with_own_token.status_code == 200 and "<Stream" in with_own_token.text


async def test_phone_numbers_are_e164_unique_and_must_name_an_own_agent(phone: Phone) -> None:
    agent = await phone.agent()
    added = await phone.number(agent["id"])
    again = await phone.http.post(
        "/v1/phone-numbers", json={"number": NUMBER, "agent_id": agent["id"]}, headers=auth()
    )
    not_e164 = await phone.http.post(
        "/v1/phone-numbers", json={"number": "555-1234", "agent_id": agent["id"]}, headers=auth()
    )
    no_agent = await phone.http.post(
        "/v1/phone-numbers", json={"number": "+15550002222", "agent_id": "agt_x"}, headers=auth()
    )
    listed = await phone.http.get("/v1/phone-numbers", headers=auth())
    removed = await phone.http.delete(f"/v1/phone-numbers/{added['id']}", headers=auth())
    gone = await phone.http.delete(f"/v1/phone-numbers/{added['id']}", headers=auth())

    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert not_e164.status_code in (400, 422) and "number" in not_e164.text
    assert no_agent.status_code == 404
    assert [n["number"] for n in listed.json()["data"]] == [NUMBER]
    assert removed.status_code == 204 and gone.status_code == 404


def test_the_signature_is_twilios_hmac_over_url_and_sorted_parameters() -> None:
    """The fake Twilio in these tests signs with the same library as the server checks; this
    pins that library's algorithm to PROTOCOLS.md's description of Twilio's."""
    import base64
    import hashlib
    import hmac

    url, form = "https://example.com/telephony/twilio/voice", {"To": "+1", "CallSid": "CA1"}
    expected = base64.b64encode(
        hmac.new(AUTH_TOKEN.encode(), (url + "CallSidCA1To+1").encode(), hashlib.sha1).digest()
    ).decode()
    assert RequestValidator(AUTH_TOKEN).compute_signature(url, form) == expected
