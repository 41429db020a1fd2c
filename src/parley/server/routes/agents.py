"""`/v1/agents`: create, list, read, update and delete agents; open sessions on them."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from parley.credentials import new_session_token
from parley.server.deps import AccountDep, Services, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.schemas.agents import AgentCreate, AgentOut, AgentUpdate
from parley.server.schemas.common import Limit, Offset, Page
from parley.server.schemas.sessions import SessionCreate, SessionOut
from parley.server.urls import websocket_url
from parley.server.voices import check_voice

router = APIRouter(prefix="/v1/agents", tags=["agents"])


async def check_knowledge(found: Services, account_id: str, ids: list[str]) -> None:
    """Every collection named must be the account's own (another's does not exist)."""
    known = set(await found.store.knowledge.searchable(account_id, ids))
    for collection_id in ids:
        if collection_id not in known:
            raise ApiError(
                404, "not_found", f"knowledge_ids: no knowledge collection {collection_id!r}"
            )


@router.post("", status_code=201, response_model=AgentOut, responses=errors(404))
@router.post("/create", status_code=201, response_model=AgentOut, include_in_schema=False)
async def create_agent(body: AgentCreate, account: AccountDep, found: ServicesDep) -> AgentOut:
    await check_knowledge(found, account.id, body.knowledge_ids)
    await check_voice(found.hub, found.voices, body.tts, body.voice_id)
    agent = await found.store.agents.create(account.id, body.columns())
    return AgentOut.of(agent, found.settings.vad_defaults())


@router.get("", response_model=Page[AgentOut])
async def list_agents(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[AgentOut]:
    agents, total = await found.store.agents.list(account.id, limit=limit, offset=offset)
    return Page(
        data=[AgentOut.of(a, found.settings.vad_defaults()) for a in agents],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: str, account: AccountDep, found: ServicesDep) -> AgentOut:
    agent = await found.store.agents.get(account.id, agent_id)
    if agent is None:
        raise not_found("agent", agent_id)
    return AgentOut.of(agent, found.settings.vad_defaults())


@router.patch("/{agent_id}", response_model=AgentOut)
async def update_agent(
    agent_id: str, body: AgentUpdate, account: AccountDep, found: ServicesDep
) -> AgentOut:
    agent = await found.store.agents.get(account.id, agent_id)
    if agent is None:
        raise not_found("agent", agent_id)
    await check_knowledge(found, account.id, body.knowledge_ids or [])
    sent = body.model_fields_set
    if {"voice_id", "tts"} & sent:
        tts = body.tts if "tts" in sent else agent.tts
        await check_voice(found.hub, found.voices, tts, body.voice_id or agent.voice_id)
    updated = await found.store.agents.update(account.id, agent_id, body.changes(agent))
    if updated is None:
        raise not_found("agent", agent_id)
    return AgentOut.of(updated, found.settings.vad_defaults())


@router.delete("/{agent_id}", response_model=AgentOut)
async def delete_agent(agent_id: str, account: AccountDep, found: ServicesDep) -> AgentOut:
    """Delete the agent and end every active session of it (live callers get `ended`)."""
    deleted = await found.store.agents.delete(account.id, agent_id)
    if deleted is None:
        raise not_found("agent", agent_id)
    agent, ended_sessions = deleted
    await found.bus.end_sessions(ended_sessions, "agent_deleted")  # on every process
    return AgentOut.of(agent, found.settings.vad_defaults())


@router.post(
    "/{agent_id}/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=errors(409, 429, 503),
)
async def create_session(
    agent_id: str,
    request: Request,
    response: Response,
    account: AccountDep,
    found: ServicesDep,
    body: SessionCreate | None = None,
) -> SessionOut:
    body = body or SessionCreate()
    agent = await found.store.agents.get(account.id, agent_id)
    if agent is None:
        raise not_found("agent", agent_id)
    if agent.status != "active":
        raise ApiError(409, "agent_paused", f"agent {agent_id!r} is paused; activate it first")
    await found.check_room(account.id)
    token = new_session_token()
    session = await found.store.sessions.create(
        account_id=account.id,
        agent_id=agent.id,
        ttl=found.settings.session_ttl,
        token=token,
        metadata=body.metadata,
        initial_message=body.initial_message,
    )
    url = websocket_url(request, found.settings.public_url, "/ws/voice", token=token)
    response.headers["Location"] = f"/v1/sessions/{session.id}"
    return SessionOut.of(session, websocket_url=url)
