"""Phone numbers and the Twilio credentials of accounts that bring their own.

A number is unique across the deployment (a call to it must reach exactly one agent), so a
second account registering it gets a conflict, not a silent takeover. An account's Twilio
auth token is sealed at rest and read back only by the server, to check that account's
webhooks and to place and end its calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store._paging import page
from parley.store.tables import PhoneNumber, TwilioAccount


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    account_sid: str
    auth_token: str


class Phones:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, account_id: str, number: str, agent_id: str) -> PhoneNumber | None:
        """None if the number is already registered (by any account)."""
        row = PhoneNumber(
            id=new_id("pn"),
            account_id=account_id,
            number=number,
            agent_id=agent_id,
            created_at=datetime.now(UTC),
        )
        try:
            async with self._sessions.begin() as db:
                db.add(row)
        except IntegrityError:
            return None
        return row

    async def list(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[PhoneNumber], int]:
        query = (
            select(PhoneNumber)
            .where(PhoneNumber.account_id == account_id)
            .order_by(PhoneNumber.created_at.desc(), PhoneNumber.id)
        )
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def by_number(self, number: str) -> PhoneNumber | None:
        async with self._sessions() as db:
            query = select(PhoneNumber).where(PhoneNumber.number == number)
            return (await db.execute(query)).scalar_one_or_none()

    async def remove(self, account_id: str, number_id: str) -> bool:
        async with self._sessions.begin() as db:
            row = await db.get(PhoneNumber, number_id)
            if row is None or row.account_id != account_id:
                return False
            await db.delete(row)
        return True

    # An account's own Twilio credentials ------------------------------------------------

    async def set_twilio(self, account_id: str, account_sid: str, auth_token: str) -> bool:
        """Store (or replace) them; False if another account already uses that Twilio SID."""
        try:
            async with self._sessions.begin() as db:
                await db.execute(
                    delete(TwilioAccount).where(TwilioAccount.account_id == account_id)
                )
                db.add(
                    TwilioAccount(
                        account_id=account_id,
                        account_sid=account_sid,
                        auth_token=auth_token,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def twilio(self, account_id: str) -> TwilioCredentials | None:
        async with self._sessions() as db:
            row = await db.get(TwilioAccount, account_id)
        return None if row is None else TwilioCredentials(row.account_sid, row.auth_token)

    async def twilio_sid(self, account_id: str) -> str | None:
        """The account's Twilio SID, the one part of its credentials the API shows."""
        found = await self.twilio(account_id)
        return None if found is None else found.account_sid

    async def drop_twilio(self, account_id: str) -> bool:
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(TwilioAccount).where(TwilioAccount.account_id == account_id)
            )
        return bool(getattr(result, "rowcount", 0))
