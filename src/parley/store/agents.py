"""Agents: what a caller talks to (persona, voice, tools, providers, turn-taking).

Deleting an agent is a soft delete: the row stays so that its sessions and transcripts keep
their history, but the API no longer finds it, and every session of it that is still active
ends with reason `agent_deleted`. Each account has one default agent, made on first need
(`POST /v1/voice` without an `agent_id`); if the user deletes it, the next need makes another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store._paging import page
from parley.store.tables import Account, Agent, Session

DEFAULT_AGENT_FIELDS: dict[str, Any] = {
    "name": "Default agent",
    "voice_id": "default",
    "system_prompt": (
        "You are a friendly, concise voice assistant. Answer in one or two short sentences."
    ),
}


class Agents:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, account_id: str, fields: dict[str, Any]) -> Agent:
        now = datetime.now(UTC)
        agent = Agent(
            id=new_id("agt"), account_id=account_id, created_at=now, updated_at=now, **fields
        )
        async with self._sessions.begin() as db:
            db.add(agent)
        return agent

    async def get(self, account_id: str, agent_id: str) -> Agent | None:
        """The account's agent, unless it does not exist, is another's, or was deleted."""
        query = select(Agent).where(
            Agent.id == agent_id, Agent.account_id == account_id, Agent.status != "deleted"
        )
        async with self._sessions() as db:
            return (await db.execute(query)).scalar_one_or_none()

    async def list(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[Agent], int]:
        """Newest first; deleted agents are not listed."""
        query = (
            select(Agent)
            .where(Agent.account_id == account_id, Agent.status != "deleted")
            .order_by(Agent.created_at.desc(), Agent.id.desc())
        )
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def update(self, account_id: str, agent_id: str, changes: dict[str, Any]) -> Agent | None:
        async with self._sessions.begin() as db:
            agent = (
                await db.execute(
                    select(Agent)
                    .where(
                        Agent.id == agent_id,
                        Agent.account_id == account_id,
                        Agent.status != "deleted",
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if agent is None:
                return None
            for field, value in changes.items():
                setattr(agent, field, value)
            agent.updated_at = datetime.now(UTC)
            return agent

    async def delete(self, account_id: str, agent_id: str) -> tuple[Agent, Sequence[str]] | None:
        """Soft-delete the agent and end its active sessions; returns it and their ids."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            agent = (
                await db.execute(
                    select(Agent)
                    .where(
                        Agent.id == agent_id,
                        Agent.account_id == account_id,
                        Agent.status != "deleted",
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if agent is None:
                return None
            agent.status = "deleted"
            agent.deleted_at = agent.updated_at = now
            ended = list(
                (
                    await db.execute(
                        update(Session)
                        .where(Session.agent_id == agent_id, Session.status == "active")
                        .values(status="ended", ended_at=now, end_reason="agent_deleted")
                        .returning(Session.id)
                    )
                )
                .scalars()
                .all()
            )
            return agent, ended

    async def default_for(self, account_id: str) -> Agent:
        """The account's default agent, made now if it has none (safe under concurrency)."""
        async with self._sessions() as db:
            account = await db.get(Account, account_id)
            if account is None:
                raise LookupError(f"no account {account_id}")
            current_id = account.default_agent_id
        if current_id is not None:
            current = await self.get(account_id, current_id)
            if current is not None:
                return current
        candidate = await self.create(account_id, dict(DEFAULT_AGENT_FIELDS, is_default=True))
        async with self._sessions.begin() as db:
            claimed = await db.execute(
                update(Account)
                .where(
                    Account.id == account_id,
                    or_(
                        Account.default_agent_id.is_(None),
                        Account.default_agent_id == current_id,
                    ),
                )
                .values(default_agent_id=candidate.id)
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                return candidate
            await db.execute(delete(Agent).where(Agent.id == candidate.id))
        return await self.default_for(account_id)
