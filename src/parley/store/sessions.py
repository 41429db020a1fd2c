"""Sessions: one connection's worth of conversation with an agent.

Status moves `active → ended` (someone or something ended it) or `active → expired` (nobody
joined before `expires_at`). Expiry is applied lazily on every read and by a periodic sweep,
so a reader never sees an `active` session that can no longer be joined. Joining is a
compare-and-set on `joined_at`, so a session token admits exactly one connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import hash_secret, new_id
from parley.store._paging import page
from parley.store.tables import Account, Message, Session


def _expire(account_id: str | None, now: datetime) -> Any:
    statement = update(Session).where(
        Session.status == "active", Session.joined_at.is_(None), Session.expires_at <= now
    )
    if account_id is not None:
        statement = statement.where(Session.account_id == account_id)
    return statement.values(status="expired", ended_at=Session.expires_at, end_reason="timeout")


class Sessions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        *,
        account_id: str,
        agent_id: str,
        ttl: float,
        token: str | None = None,
        conversation_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        initial_message: str | None = None,
        start: dict[str, Any] | None = None,
        dialect: str | None = None,
        ephemeral: bool = False,
        joined_by: str | None = None,
        recording: bool = False,
        live_limit: int = 0,
        session_id: str | None = None,
    ) -> Session:
        """A new active session; `conversation_id` continues that conversation. `joined_by`
        (a worker id) creates it already joined, held live by that worker; then, with a
        `live_limit`, `AccountFull` if the account already holds that many live sessions."""
        now = datetime.now(UTC)
        session = Session(
            id=session_id or new_id("ses"),
            account_id=account_id,
            agent_id=agent_id,
            conversation_id=conversation_id or new_id("cnv"),
            token_hash=hash_secret(token) if token else None,
            status="active",
            meta=metadata or {},
            initial_message=initial_message,
            start=start,
            dialect=dialect,
            ephemeral=ephemeral,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            joined_at=now if joined_by else None,
            worker_id=joined_by,
            recording=recording,
        )
        async with self._sessions.begin() as db:
            if joined_by and live_limit:
                await _hold_account(db, account_id, live_limit)
            db.add(session)
        return session

    async def get(self, account_id: str, session_id: str) -> Session | None:
        query = select(Session).where(Session.id == session_id, Session.account_id == account_id)
        return await self._fresh(query)

    async def awaiting(self, session_id: str, dialect: str) -> bool:
        """Whether a session of this dialect is active and not yet joined (a media stream
        may be let in to present its token)."""
        session = await self._fresh(select(Session).where(Session.id == session_id))
        return (
            session is not None
            and session.dialect == dialect
            and session.status == "active"
            and session.joined_at is None
        )

    async def by_token(self, token: str) -> Session | None:
        """The session a WebSocket token names (any status: the caller decides what to allow)."""
        query = select(Session).where(Session.token_hash == hash_secret(token))
        return await self._fresh(query)

    async def list(
        self,
        account_id: str,
        *,
        limit: int,
        offset: int,
        agent_id: str | None = None,
        status: str | None = None,
        dialect: str | None = None,
    ) -> tuple[Sequence[Session], int]:
        """Newest first."""
        query = (
            select(Session)
            .where(Session.account_id == account_id)
            .order_by(Session.created_at.desc(), Session.id.desc())
        )
        if agent_id is not None:
            query = query.where(Session.agent_id == agent_id)
        if status is not None:
            query = query.where(Session.status == status)
        if dialect is not None:
            query = query.where(Session.dialect == dialect)
        async with self._sessions.begin() as db:
            await db.execute(_expire(account_id, datetime.now(UTC)))
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def count_live(self, account_id: str) -> int:
        """The account's sessions that are joined and not yet ended (on any process)."""
        async with self._sessions() as db:
            return await _count_live(db, account_id)

    async def conversation_owner(self, conversation_id: str) -> str | None:
        """The account a conversation belongs to, or None if no session carries it."""
        query = select(Session.account_id).where(Session.conversation_id == conversation_id)
        async with self._sessions() as db:
            return (await db.execute(query.limit(1))).scalar_one_or_none()

    async def spend_token(self, session_id: str, hold_s: float) -> bool:
        """Make a session's token admit no further connection (a single-use credential,
        spent when its connection is accepted, whether or not a call follows), and keep the
        session joinable `hold_s` from now, so the connection that spent it may still open
        it; False if it was already spent."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(Session)
                .where(Session.id == session_id, Session.token_hash.is_not(None))
                .values(token_hash=None, expires_at=now + timedelta(seconds=hold_s))
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def join(
        self,
        session_id: str,
        dialect: str,
        worker_id: str | None = None,
        *,
        account_id: str | None = None,
        live_limit: int = 0,
    ) -> bool:
        """Claim an active, unjoined, unexpired session for one connection on a worker;
        with a `live_limit`, `AccountFull` if its account already holds that many."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            if account_id is not None and live_limit:
                await _hold_account(db, account_id, live_limit)
            result = await db.execute(
                update(Session)
                .where(
                    Session.id == session_id,
                    Session.status == "active",
                    Session.joined_at.is_(None),
                    Session.expires_at > now,
                )
                .values(joined_at=now, dialect=dialect, worker_id=worker_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def end(self, session_id: str, reason: str) -> bool:
        """End an active session; False if it had already ended or expired."""
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(Session)
                .where(Session.id == session_id, Session.status == "active")
                .values(status="ended", ended_at=datetime.now(UTC), end_reason=reason)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_metadata(self, session_id: str, values: dict[str, Any]) -> None:
        """Merge `values` into the session's metadata (what is learnt after it was made)."""
        async with self._sessions.begin() as db:
            session = await db.get(Session, session_id)
            if session is not None:
                session.meta = {**(session.meta or {}), **values}

    async def recorded(self, session_id: str) -> None:
        """The session is being recorded (decided when it was joined)."""
        async with self._sessions.begin() as db:
            await db.execute(update(Session).where(Session.id == session_id).values(recording=True))

    async def summarised(self, session_id: str, short: str | None, full: str | None) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(Session)
                .where(Session.id == session_id)
                .values(short_summary=short, summary=full)
            )

    async def delete(self, account_id: str, session_id: str) -> bool:
        """Delete a session and its messages (they cascade); False if it is not the account's."""
        async with self._sessions.begin() as db:
            session = await db.get(Session, session_id)
            if session is None or session.account_id != account_id:
                return False
            await db.execute(delete(Message).where(Message.session_id == session_id))
            await db.delete(session)
        return True

    async def ended_among(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Of these sessions, the ones no longer active, with why (for other processes)."""
        if not session_ids:
            return {}
        query = select(Session.id, Session.end_reason, Session.status).where(
            Session.id.in_(session_ids), Session.status != "active"
        )
        async with self._sessions() as db:
            rows = (await db.execute(query)).all()
        return {row.id: row.end_reason or row.status for row in rows}

    async def expire_due(self) -> int:
        """Mark every unjoined session past its `expires_at` as expired; returns how many."""
        async with self._sessions.begin() as db:
            result = await db.execute(_expire(None, datetime.now(UTC)))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _fresh(self, query: Select[Session]) -> Session | None:
        async with self._sessions() as db:
            session = (await db.execute(query)).scalar_one_or_none()
        if session is None or not _is_due(session):
            return session
        async with self._sessions.begin() as db:
            await db.execute(_expire(session.account_id, datetime.now(UTC)))
            return await db.get(Session, session.id, populate_existing=True)


def _is_due(session: Session) -> bool:
    return (
        session.status == "active"
        and session.joined_at is None
        and session.expires_at <= datetime.now(UTC)
    )


class AccountFull(Exception):
    """The account holds its limit of live sessions."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"this account already has {limit} live sessions")
        self.limit = limit


async def _count_live(db: AsyncSession, account_id: str) -> int:
    query = select(func.count()).where(
        Session.account_id == account_id,
        Session.status == "active",
        Session.joined_at.is_not(None),
    )
    return int((await db.execute(query)).scalar_one())


async def _hold_account(db: AsyncSession, account_id: str, limit: int) -> None:
    """Serialise the account's joins until this transaction ends, then count: a write to its
    row takes PostgreSQL's row lock (other processes' joins of the account wait) and
    SQLite's write lock (every writer waits), so two joins cannot both see room for one."""
    await db.execute(update(Account).where(Account.id == account_id).values(name=Account.name))
    if await _count_live(db, account_id) >= limit:
        raise AccountFull(limit)
