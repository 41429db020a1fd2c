"""`/v1/phone-numbers`: which agent answers each number; `/v1/telephony/twilio`: an
account's own Twilio credentials.

A number is E.164 (`+15551230000`) and reaches one agent of the account that registered
it; another account registering it gets a 409. The credentials' auth token is sealed with
`PARLEY_SECRET_KEY` and never shown again: the API shows the account SID only.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.schemas.common import Limit, Offset, Page
from parley.store.tables import PhoneNumber

router = APIRouter(tags=["phone calls (Twilio)"])

E164 = r"^\+[1-9][0-9]{6,14}$"


class PhoneNumberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=E164, description="E.164, e.g. +15551230000")
    agent_id: str = Field(min_length=1, max_length=40)


class PhoneNumberOut(BaseModel):
    id: str
    number: str
    agent_id: str
    created_at: datetime

    @classmethod
    def of(cls, row: PhoneNumber) -> PhoneNumberOut:
        return cls(id=row.id, number=row.number, agent_id=row.agent_id, created_at=row.created_at)


@router.post(
    "/v1/phone-numbers", status_code=201, response_model=PhoneNumberOut, responses=errors(404, 409)
)
async def add_number(
    body: PhoneNumberCreate, account: AccountDep, found: ServicesDep
) -> PhoneNumberOut:
    if await found.store.agents.get(account.id, body.agent_id) is None:
        raise not_found("agent", body.agent_id)
    row = await found.store.phones.add(account.id, body.number, body.agent_id)
    if row is None:
        raise ApiError(409, "conflict", f"{body.number} is already registered")
    return PhoneNumberOut.of(row)


@router.get("/v1/phone-numbers", response_model=Page[PhoneNumberOut])
async def list_numbers(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[PhoneNumberOut]:
    rows, total = await found.store.phones.list(account.id, limit=limit, offset=offset)
    data = [PhoneNumberOut.of(row) for row in rows]
    return Page(data=data, total=total, limit=limit, offset=offset)


@router.delete("/v1/phone-numbers/{number_id}", status_code=204, responses=errors(404))
async def remove_number(number_id: str, account: AccountDep, found: ServicesDep) -> Response:
    if not await found.store.phones.remove(account.id, number_id):
        raise not_found("phone number", number_id)
    return Response(status_code=204)


class TwilioCredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str = Field(min_length=16, max_length=128, pattern=r"^[\x21-\x7e]+$")


class TwilioCredentialsOut(BaseModel):
    account_sid: str | None = Field(description="null: this account uses the server's")


@router.put("/v1/telephony/twilio", response_model=TwilioCredentialsOut, responses=errors(409))
async def set_twilio(
    body: TwilioCredentialsIn, account: AccountDep, found: ServicesDep
) -> TwilioCredentialsOut:
    """This account's own Twilio credentials: its numbers' webhooks are checked with its
    auth token, and its calls are ended, transferred and placed with them."""
    if not found.settings.secret_key:
        raise ApiError(
            409,
            "secret_key_unset",
            "this server stores no credentials until PARLEY_SECRET_KEY is set (see "
            "docs/security.md)",
        )
    if not await found.store.phones.set_twilio(account.id, body.account_sid, body.auth_token):
        raise ApiError(409, "conflict", "another account already uses that Twilio account")
    return TwilioCredentialsOut(account_sid=body.account_sid)


@router.get("/v1/telephony/twilio", response_model=TwilioCredentialsOut)
async def get_twilio(account: AccountDep, found: ServicesDep) -> TwilioCredentialsOut:
    return TwilioCredentialsOut(account_sid=await found.store.phones.twilio_sid(account.id))


@router.delete("/v1/telephony/twilio", status_code=204, responses=errors(404))
async def drop_twilio(account: AccountDep, found: ServicesDep) -> Response:
    if not await found.store.phones.drop_twilio(account.id):
        raise ApiError(404, "not_found", "this account has no Twilio credentials of its own")
    return Response(status_code=204)
