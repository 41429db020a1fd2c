"""The server's side of a live session: credentials, agents, stored history, providers.

Dialects call `admit` with whatever credential the client presented and `open` once the
client has said how it wants the session; everything that touches the store or builds
providers happens here, so every dialect gets the same rules:

- a session token admits exactly one connection to its session, while it is active;
- an API key admits a new session on any of the account's agents (the default one if none
  is named), stored like any other unless it is ephemeral;
- a continued conversation must be the account's own; its messages become the history;
- a credential holds at most `PARLEY_MAX_CONNECTIONS_PER_KEY` sockets in this process and an
  account at most `PARLEY_MAX_SESSIONS_PER_ACCOUNT` live sessions (counted in the store, so
  across processes); a draining process admits no new session, nor one without headroom
  (`server_busy`, server/headroom.py). Each refusal says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from parley.audio.recording import CallRecorder
from parley.credentials import SESSION_TOKEN_PREFIX, new_id
from parley.dialects.host import (
    Admission,
    AgentOverrides,
    Dialect,
    LiveSession,
    SessionOptions,
    SessionRefused,
)
from parley.engine.agent import BuiltinTool, FunctionTool
from parley.engine.conversation import Conversation
from parley.engine.events import Event, Reconfigure
from parley.engine.tools import ToolCatalogue
from parley.engine.transcript import NoTranscript, TranscriptStore
from parley.knowledge.extract import ExtractionFailed, extract
from parley.providers.specs import LlmChoice
from parley.server import metrics, webhooks
from parley.server.deps import Services
from parley.server.errors import ApiError
from parley.server.files import file_path
from parley.server.logformat import enter_session
from parley.server.plans import VoiceBuilder, agent_tools, build_plan, history
from parley.server.recordings import recording_path
from parley.server.session_tools import SessionTools
from parley.server.summaries import summarise
from parley.server.transcripts import StoredTranscript
from parley.server.voices import check_voice
from parley.store.sessions import AccountFull
from parley.store.tables import Agent

log = logging.getLogger("parley.server")

BUS_WAIT_S = 2.0  # the longest a join or an ending waits on Redis
SHUTTING_DOWN = "this server is shutting down and takes no new sessions; connect again"


NO_TURN_MODEL = (
    "turn_detection semantic: the end-of-turn model is not installed "
    "(pip install --no-deps pipecat-ai==1.14.0), so silence ends turns"
)


class ServerHost:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._builders: dict[str, VoiceBuilder] = {}
        self._summarise: set[str] = set()  # calls whose summary is written when they end
        self._slot: str | None = None
        self._pending = False  # admitted, not yet opened: counts against the room

    async def admit(self, credential: str) -> Admission:
        admission = await self._admission(credential)
        if self._services.live.draining:
            raise SessionRefused("shutting_down", SHUTTING_DOWN)
        busy = self._services.room_refusal()
        if busy is not None:
            metrics.ADMISSION_REFUSALS.labels("busy").inc()
            raise SessionRefused("server_busy", f"{busy}; try again shortly")
        self._slot = self._services.connections.acquire(credential)
        if self._slot is None:
            limit = self._services.connections.per_credential
            raise SessionRefused(
                "too_many_connections", f"this credential already holds {limit} connections"
            )
        self._pending = True
        self._services.pending += 1  # a burst of joins counts before its sessions open
        return admission

    def _opened(self) -> None:
        if self._pending:
            self._pending = False
            self._services.pending -= 1

    def release(self) -> None:
        """The connection is over: give its credential's slot back (idempotent)."""
        self._opened()
        if self._slot is not None:
            self._services.connections.release(self._slot)
            self._slot = None

    async def _admission(self, credential: str) -> Admission:
        store = self._services.store
        if credential.startswith(SESSION_TOKEN_PREFIX):
            session = await store.sessions.by_token(credential)
            if session is None:
                raise SessionRefused("unauthorized", "unknown session token")
            if session.status != "active":
                raise SessionRefused("session_unavailable", f"this session has {session.status}")
            if session.joined_at is not None:
                raise SessionRefused("session_unavailable", "this session is already joined")
            return Admission(session.account_id, session.id, session.start, session.dialect)
        account = await store.accounts.authenticate(credential)
        if account is None:
            raise SessionRefused("unauthorized", "invalid token or API key")
        return Admission(account.id)

    async def open(
        self,
        admission: Admission,
        options: SessionOptions,
        emit: Callable[[Event], None],
        dialect: Dialect,
    ) -> LiveSession:
        services = self._services
        if services.live.draining:
            raise SessionRefused("shutting_down", SHUTTING_DOWN)
        limit, bus = services.settings.max_sessions_per_account, services.bus
        session_id = admission.session_id or options.session_id or new_id("ses")
        try:
            held = False
            if bus.keeps_limits and limit:  # Redis counts the account's sessions
                hold = await self._hold(admission.account_id, session_id, limit)
                if hold == "full":
                    raise AccountFull(limit)
                if hold == "taken":
                    raise SessionRefused("session_unavailable", "this session is already joined")
                if hold == "held":
                    held, limit = True, 0  # the store need not count too
            try:
                return await self._open(admission, options, emit, dialect, limit, session_id)
            except BaseException:
                if held:
                    await bus.release(admission.account_id, session_id)
                raise
        except AccountFull as full:
            metrics.ADMISSION_REFUSALS.labels("account_limit").inc()
            raise SessionRefused("too_many_sessions", str(full)) from None
        finally:
            self._opened()

    async def _hold(self, account_id: str, session_id: str, limit: int) -> str:
        """The bus's answer, or `unknown` when it cannot be asked (the store counts then)."""
        try:
            return await asyncio.wait_for(
                self._services.bus.hold(account_id, session_id, limit), BUS_WAIT_S
            )
        except Exception as exc:
            log.warning("control bus unavailable (%s): the store keeps the account's limit", exc)
            return "unknown"

    async def _open(
        self,
        admission: Admission,
        options: SessionOptions,
        emit: Callable[[Event], None],
        dialect: Dialect,
        limit: int,
        new_session_id: str,
    ) -> LiveSession:
        services = self._services
        store = services.store
        scripted_first: str | None = None
        if {"ultravox", "twilio"} & {admission.dialect, dialect} and admission.dialect != dialect:
            # A call's join URL (or phone call's token) opens only its socket, configured as
            # the call was created; another dialect's start would escape the call's limits.
            raise SessionRefused("session_unavailable", "this token is for another kind of session")
        if admission.session_id is not None:
            session = await store.sessions.get(admission.account_id, admission.session_id)
            if session is None:
                raise SessionRefused("session_unavailable", "the session no longer exists")
            agent = await self._agent(admission.account_id, session.agent_id)
            joined = await store.sessions.join(
                session.id,
                dialect,
                services.worker_id,
                account_id=admission.account_id,
                live_limit=limit,
            )
            if not joined:
                raise SessionRefused("session_unavailable", "this session is no longer joinable")
            session_id, conversation_id = session.id, session.conversation_id
            scripted_first = session.initial_message
            keep = not (session.ephemeral or options.ephemeral)
            continuing = options.conversation_id is not None
            record = keep and (session.recording or options.record or agent.record)
            if record and not session.recording:
                await store.sessions.recorded(session.id)
        else:
            agent = await self._agent(admission.account_id, options.agent_id)
            continuing = options.conversation_id is not None
            if continuing:
                owner = await store.sessions.conversation_owner(options.conversation_id or "")
                if owner != admission.account_id:
                    raise SessionRefused(
                        "not_found", f"no conversation {options.conversation_id!r}"
                    )
            keep = not options.ephemeral
            if keep:
                session = await store.sessions.create(
                    account_id=admission.account_id,
                    agent_id=agent.id,
                    ttl=services.settings.session_ttl,
                    conversation_id=options.conversation_id,
                    metadata=options.metadata,
                    dialect=dialect,
                    joined_by=services.worker_id,
                    live_limit=limit,
                    session_id=new_session_id,
                    recording=options.record or agent.record,
                )
                session_id, conversation_id = session.id, session.conversation_id
            else:
                if limit and await store.sessions.count_live(admission.account_id) >= limit:
                    raise AccountFull(limit)  # stored sessions only: ephemeral ones leave no row
                session_id = new_session_id
                conversation_id = options.conversation_id or new_id("cnv")
            record = keep and (options.record or agent.record)
        log_context = enter_session(session_id, agent.id)  # this task's lines, and its children's

        earlier = (
            history(await store.messages.for_conversation(admission.account_id, conversation_id))
            if continuing
            else []
        )
        transcript: TranscriptStore = (
            StoredTranscript(store, session_id, conversation_id, keep_messages=keep)
            if keep or admission.session_id is not None
            else NoTranscript()
        )
        overrides, voice_note = await self._voice(agent, options.overrides)
        builder = VoiceBuilder(services.hub, services.settings, agent, overrides)
        builder.warnings.extend(voice_note)
        try:
            collections, search = await self._knowledge(admission.account_id, agent, options)
            context = await self._context(admission.account_id, options.file_ids)
            secrets = await store.secrets.values(admission.account_id, options.secret_ids)
            if secrets is None:
                raise SessionRefused("not_found", "secret_ids: no such secret")
            plan = build_plan(
                agent,
                options,
                scripted_first=scripted_first,
                earlier=earlier,
                session_id=session_id,
                search=search,
                context=context,
                server_tool_timeout_s=self._services.settings.tool_timeout,
                vad_defaults=self._services.settings.vad_defaults(),
            )
            semantic = plan.vad.turn_detection == "semantic"
            voice = builder.voice(judge_turns=semantic or options.live_turn_taking)
            if semantic and voice.turn_model is None:
                builder.warnings.append(NO_TURN_MODEL)
        except SessionRefused:
            await transcript.finish("error")
            raise
        except Exception as exc:
            log.warning("cannot start session %s: %s", session_id, exc)
            await transcript.finish("error")
            raise SessionRefused("provider_unavailable", str(exc)) from exc
        recorder = (
            CallRecorder(
                recording_path(services.settings, session_id),
                plan.input_format,
                plan.output_format,
                start=asyncio.get_running_loop().time(),
            )
            if record
            else None
        )
        tools = SessionTools(
            services.hub.tool_runner(),
            services.retriever,
            admission.account_id,
            collections,
            secrets,
        )
        conversation = Conversation(plan, voice, transcript, metrics.observe(emit), tools, recorder)
        log_context.follow_turns(conversation.core)
        live = LiveSession(
            session_id, conversation_id, conversation, builder.warnings, admission.account_id
        )
        metrics.SESSIONS_STARTED.labels(dialect).inc()
        metrics.SESSIONS_LIVE.inc()
        services.live.add(live)
        services.headroom.admitted(asyncio.get_running_loop().time())
        webhooks.notify(services.webhooks, "session.started", admission.account_id, session_id)
        self._builders[session_id] = builder
        if dialect == "ultravox" and keep:
            self._summarise.add(session_id)
        log.info("session %s started: agent %s, %s dialect", session_id, agent.id, dialect)
        return live

    async def rebuild(
        self,
        session: LiveSession,
        *,
        llm: list[LlmChoice] | None = None,
        tts: list[str] | None = None,
        tools: list[FunctionTool | BuiltinTool] | None = None,
        more_tools: list[FunctionTool | BuiltinTool] | None = None,
    ) -> tuple[Reconfigure, list[str]]:
        builder = self._builders[session.session_id]
        builder.warnings = []
        if more_tools is not None:
            tools = [*(tools if tools is not None else agent_tools(builder.agent)), *more_tools]
        change = Reconfigure(
            llm=builder.llm(llm) if llm is not None else None,
            tts=builder.tts(tts) if tts is not None else None,
            tools=ToolCatalogue(tools) if tools is not None else None,
        )
        return change, builder.warnings

    async def closed(self, session: LiveSession) -> None:
        self._services.live.remove(session)
        if self._services.bus.keeps_limits:
            try:
                await asyncio.wait_for(
                    self._services.bus.release(session.account_id, session.session_id),
                    BUS_WAIT_S,
                )
            except Exception:  # Redis is away: the place lapses by itself
                log.warning("could not free session %s's place on the bus", session.session_id)
        metrics.SESSIONS_LIVE.dec()
        self._builders.pop(session.session_id, None)
        webhooks.session_ended(self._services.webhooks, session)  # stored ended by now
        if session.session_id in self._summarise:
            self._summarise.discard(session.session_id)
            conversation = session.conversation
            self._services.chore(
                summarise(
                    self._services.store,
                    session.session_id,
                    conversation.voice.llm,
                    conversation.core.history.transcript(),
                    then=webhooks.summary_ready(self._services.webhooks, session),
                ),
                f"summary-{session.session_id}",
            )

    async def _knowledge(
        self, account_id: str, agent: Agent, options: SessionOptions
    ) -> tuple[list[str], BuiltinTool | None]:
        """The collections the session searches (with their pages), and the tool that does."""
        asked = list(dict.fromkeys([*(agent.knowledge_ids or []), *options.knowledge_ids]))
        if not asked:
            return [], None
        store = self._services.store.knowledge
        collections = await store.searchable(account_id, asked)
        missing = [c for c in options.knowledge_ids if c not in collections]
        if missing:  # the client named it: say so
            raise SessionRefused("not_found", f"no knowledge collection {missing[0]!r}")
        gone = [c for c in asked if c not in collections]
        if gone:  # deleted since the agent was given it: the rest still serve
            log.warning("agent %s names deleted knowledge %s", agent.id, ", ".join(gone))
        asked = [c for c in asked if c in collections]
        if not asked:
            return [], None
        found = await store.names(account_id, asked)
        names = [found[i] for i in asked if i in found]
        description = (
            f"Search {', '.join(names)} for passages that answer the caller's question. "
            "Answer from what it returns, and say so when it finds nothing."
        )
        return collections, BuiltinTool(builtin="query_knowledge", description=description)

    async def _context(self, account_id: str, file_ids: list[str]) -> str:
        """Attached files, read whole into the system prompt (within the character budget)."""
        if not file_ids:
            return ""
        settings, store = self._services.settings, self._services.store.knowledge
        parts, used = [], 0
        for file_id in dict.fromkeys(file_ids):
            file = await store.file(account_id, file_id)
            if file is None:
                raise SessionRefused("not_found", f"no file {file_id!r}")
            try:
                data = await asyncio.to_thread(file_path(settings, file.id).read_bytes)
            except OSError:
                log.exception("file %s: its content cannot be read", file.id)
                raise SessionRefused(
                    "invalid_file", f"file {file_id!r}: its content is missing"
                ) from None
            try:
                text = await asyncio.to_thread(extract, data, file.kind)  # type: ignore[arg-type]
            except ExtractionFailed as exc:
                raise SessionRefused("invalid_file", f"file {file_id!r}: {exc}") from None
            used += len(text)
            if used > settings.context_file_chars:
                raise SessionRefused(
                    "file_too_large",
                    f"file {file_id!r} does not fit the {settings.context_file_chars}-character "
                    "context budget: add it to a knowledge collection instead",
                )
            parts.append(f"## {file.name}\n{text.strip()}")
        return "\n\nReference documents (answer from them when they apply):\n\n" + "\n\n".join(
            parts
        )

    async def _voice(
        self, agent: Agent, overrides: AgentOverrides | None
    ) -> tuple[AgentOverrides | None, list[str]]:
        """A voice the client named that the agent's TTS does not offer (a Realtime client
        always names one of OpenAI's) is a warning, and the agent's own voice speaks."""
        if overrides is None or not overrides.voice_id or overrides.voice_id == agent.voice_id:
            return overrides, []
        try:
            await check_voice(
                self._services.hub, self._services.voices, agent.tts, overrides.voice_id
            )
        except ApiError as exc:
            note = f"voice {overrides.voice_id!r}: {exc.message}; the agent's own voice speaks"
            return dataclasses.replace(overrides, voice_id=None), [note]
        return overrides, []

    async def _agent(self, account_id: str, agent_id: str | None) -> Agent:
        store = self._services.store
        if agent_id is None:
            agent = await store.agents.default_for(account_id)
        else:
            found = await store.agents.get(account_id, agent_id)
            if found is None:
                raise SessionRefused("not_found", f"no agent {agent_id!r}")
            agent = found
        if agent.status != "active":
            raise SessionRefused("agent_paused", f"agent {agent.id!r} is paused")
        return agent
