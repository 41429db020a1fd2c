"""Accounts and their API keys.

Keys in `PARLEY_API_KEYS` all belong to one bootstrap account (`acc_default`), created at
start-up; further accounts and keys come from `parley keys create`. A key is shown once, when
it is made; afterwards only its hash and a short display prefix exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import display_prefix, hash_secret, new_api_key, new_id
from parley.store.tables import Account, ApiKey

DEFAULT_ACCOUNT_ID = "acc_default"


class Accounts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, name: str) -> Account:
        account = Account(id=new_id("acc"), name=name)
        async with self._sessions.begin() as db:
            db.add(account)
        return account

    async def get(self, account_id: str) -> Account | None:
        async with self._sessions() as db:
            return await db.get(Account, account_id)

    async def ensure_default(self) -> Account:
        async with self._sessions.begin() as db:
            account = await db.get(Account, DEFAULT_ACCOUNT_ID)
            if account is None:
                account = Account(id=DEFAULT_ACCOUNT_ID, name="default")
                db.add(account)
            return account

    async def bootstrap_keys(self, keys: Iterable[str]) -> int:
        """Make every configured key valid for the default account; returns how many were new."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        await self.ensure_default()
        hashes = {hash_secret(key): key for key in keys}
        try:
            return await self._add_keys(hashes)
        except IntegrityError:  # another process registered them at the same moment
            return await self._add_keys(hashes)

    async def _add_keys(self, hashes: dict[str, str]) -> int:
        async with self._sessions.begin() as db:
            known = set(
                (await db.execute(select(ApiKey.key_hash).where(ApiKey.key_hash.in_(hashes))))
                .scalars()
                .all()
            )
            fresh = [(digest, key) for digest, key in hashes.items() if digest not in known]
            for digest, key in fresh:
                db.add(
                    ApiKey(
                        id=new_id("key"),
                        account_id=DEFAULT_ACCOUNT_ID,
                        key_hash=digest,
                        prefix=display_prefix(key),
                        name="PARLEY_API_KEYS",
                    )
                )
        return len(fresh)

    async def create_key(self, account_id: str, name: str | None = None) -> tuple[ApiKey, str]:
        """A new key for the account: the record and the secret, which is never seen again."""
        secret = new_api_key()
        key = ApiKey(
            id=new_id("key"),
            account_id=account_id,
            key_hash=hash_secret(secret),
            prefix=display_prefix(secret),
            name=name,
        )
        async with self._sessions.begin() as db:
            db.add(key)
        return key, secret

    async def list_keys(self, account_id: str | None = None) -> Sequence[ApiKey]:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if account_id is not None:
            query = query.where(ApiKey.account_id == account_id)
        async with self._sessions() as db:
            return (await db.execute(query)).scalars().all()

    async def revoke_key(self, key_id: str) -> bool:
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def authenticate(self, secret: str) -> Account | None:
        """The account a (non-revoked) API key belongs to, or None."""
        query = (
            select(Account)
            .join(ApiKey, ApiKey.account_id == Account.id)
            .where(ApiKey.key_hash == hash_secret(secret), ApiKey.revoked_at.is_(None))
        )
        async with self._sessions() as db:
            return (await db.execute(query)).scalar_one_or_none()
