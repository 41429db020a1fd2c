"""Ephemeral Realtime credentials, so a browser never holds the account's key:
`POST /v1/realtime/client_secrets` (GA) and `POST /v1/realtime/sessions` (beta).

A client secret is a prepared Parley session: its token admits exactly one `/v1/realtime`
connection, before it expires (`expires_after.seconds`, 10 s to 2 h; 10 minutes unless
asked), and the session configuration it was created with is applied before
`session.created`, as OpenAI does. The configuration is checked now: a bad field is a 400
naming it, not a connection that fails later. The token is stored hashed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body

from parley.credentials import new_session_token
from parley.dialects.realtime import config as realtime_config
from parley.dialects.realtime.config import SessionConfig
from parley.dialects.realtime.errors import InvalidEvent
from parley.dialects.realtime.shape import session_object
from parley.dialects.realtime.turns import function_tools
from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.store.tables import Agent

router = APIRouter(tags=["realtime"])

DEFAULT_SECONDS = 600
MIN_SECONDS, MAX_SECONDS = 10, 7200
DEFAULT_MODEL = "gpt-realtime"


def _bad(exc: InvalidEvent) -> ApiError:
    where = f"{exc.param}: " if exc.param else ""
    return ApiError(400, exc.code, where + exc.message)


def _seconds(expires_after: Any) -> int:
    if expires_after is None:
        return DEFAULT_SECONDS
    if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != (
        "created_at"
    ):
        raise ApiError(400, "invalid_value", "expires_after: {anchor: created_at, seconds}")
    seconds = expires_after.get("seconds", DEFAULT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ApiError(400, "invalid_value", "expires_after.seconds must be an integer")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ApiError(
            400, "invalid_value", f"expires_after.seconds must be {MIN_SECONDS} to {MAX_SECONDS}"
        )
    return seconds


async def _prepare(
    account: AccountDep, found: ServicesDep, session: Any, beta: bool, seconds: int
) -> tuple[str, datetime, dict[str, Any], str]:
    """The stored session's token and expiry, its `session` object, and its id."""
    if session is None:
        session = {}
    if not isinstance(session, dict):
        raise ApiError(400, "invalid_value", "session must be an object")
    model = session.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not model or len(model) > 200:
        raise ApiError(400, "invalid_value", "session.model must be a model name or agent id")
    settings = found.settings
    try:
        config = realtime_config.updated(
            SessionConfig(model=model), session, beta, settings.max_prompt_chars
        )
        function_tools(config.tools)
    except InvalidEvent as exc:
        raise _bad(exc) from None
    agent = await _agent(account.id, found, model)
    await found.check_room(account.id)
    token = new_session_token()
    prepared = {"session": session, "beta": beta, "model": model}
    stored = await found.store.sessions.create(
        account_id=account.id,
        agent_id=agent.id,
        ttl=seconds,
        token=token,
        start=prepared,
        dialect="realtime",
    )
    expires_at = stored.expires_at.replace(tzinfo=stored.expires_at.tzinfo or UTC)
    shown = session_object(
        config, beta=beta, session_id=stored.id, expires_at=int(expires_at.timestamp())
    )
    return token, expires_at, shown, stored.id


async def _agent(account_id: str, found: ServicesDep, model: str) -> Agent:
    store = found.store
    if model.startswith("agt_"):
        agent = await store.agents.get(account_id, model)
        if agent is None:
            raise not_found("agent", model)
    else:
        agent = await store.agents.default_for(account_id)
    if agent.status != "active":
        raise ApiError(409, "agent_paused", f"agent {agent.id!r} is paused; activate it first")
    return agent


@router.post("/v1/realtime/client_secrets", responses=errors(404, 409, 429, 503))
async def create_client_secret(
    account: AccountDep,
    found: ServicesDep,
    body: dict[str, Any] = Body(  # noqa: B008
        default_factory=dict,
        examples=[
            {
                "expires_after": {"anchor": "created_at", "seconds": 600},
                "session": {
                    "type": "realtime",
                    "model": "gpt-realtime",
                    "instructions": "You are a friendly assistant.",
                },
            }
        ],
    ),
) -> dict[str, Any]:
    """A single-use credential for one `/v1/realtime` connection (OpenAI's GA shape)."""
    seconds = _seconds(body.get("expires_after"))
    token, expires_at, session, _ = await _prepare(
        account, found, body.get("session"), False, seconds
    )
    return {"value": token, "expires_at": int(expires_at.timestamp()), "session": session}


@router.post("/v1/realtime/sessions", responses=errors(404, 409, 429, 503))
async def create_beta_session(
    account: AccountDep,
    found: ServicesDep,
    body: dict[str, Any] = Body(  # noqa: B008
        default_factory=dict,
        examples=[
            {
                "model": "gpt-4o-realtime-preview",
                "voice": "alloy",
                "instructions": "You are a friendly assistant.",
            }
        ],
    ),
) -> dict[str, Any]:
    """The beta shape: the session object, with a `client_secret` that expires in a minute
    unless `expires_after` says otherwise (as OpenAI's does)."""
    body = dict(body)
    secret = body.pop("client_secret", None)  # beta: {"client_secret": {"expires_after"}}
    asked = secret.get("expires_after") if isinstance(secret, dict) else None
    seconds = _seconds(body.pop("expires_after", None) or asked or {"seconds": 60})
    token, expires_at, session, _ = await _prepare(account, found, body, True, seconds)
    secret = {"value": token, "expires_at": int(expires_at.timestamp())}
    return {**session, "client_secret": secret}
