"""Secrets: named credentials an account's HTTP tools use, sealed at rest.

A value is written once and never read back through the API: `names` lists names only;
`values` (for a session that was given these secrets) is the one way out, to the tool
runner. Names are unique per account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store._paging import page
from parley.store.tables import Secret


class Secrets:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, account_id: str, name: str, value: str) -> Secret | None:
        """None if the account already has a secret of that name."""
        secret = Secret(
            id=new_id("sec"),
            account_id=account_id,
            name=name,
            value=value,
            created_at=datetime.now(UTC),
        )
        try:
            async with self._sessions.begin() as db:
                db.add(secret)
        except IntegrityError:
            return None
        return secret

    async def names(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[Secret], int]:
        query = select(Secret).where(Secret.account_id == account_id).order_by(Secret.name)
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def delete(self, account_id: str, secret_id: str) -> bool:
        async with self._sessions.begin() as db:
            secret = await db.get(Secret, secret_id)
            if secret is None or secret.account_id != account_id:
                return False
            await db.delete(secret)
        return True

    async def values(self, account_id: str, secret_ids: Sequence[str]) -> dict[str, str] | None:
        """name → value of these secrets of the account; None if any is not the account's."""
        if not secret_ids:
            return {}
        query = select(Secret).where(
            Secret.account_id == account_id, Secret.id.in_(list(secret_ids))
        )
        async with self._sessions() as db:
            found = (await db.execute(query)).scalars().all()
        if len(found) != len(set(secret_ids)):
            return None
        return {secret.name: secret.value for secret in found}
