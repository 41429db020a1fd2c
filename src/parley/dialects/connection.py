"""What every dialect's connection shares: the outbox, the live session, its actor task, the
input limits and the start deadline.

A dialect parses and renders; this owns the lifecycle around it. Invariants:
- Whatever ends the connection (the client leaving, a clean stop, an exception in the
  dialect's handler), `finish` tells the conversation `Disconnected` before awaiting it, so
  a session can never outlive its socket; the conversation stores what was said.
- A client that stops reading (see `Outbox`) is let go at once: its session ends as a
  disconnect and the dialect's handler is cancelled out of whatever it awaits (a receive
  that would otherwise wait for the transport's own timeout), then finishes as usual.
- Input beyond the `Limits` is dropped with the dialect's error; a client that keeps
  flooding is disconnected.
- A connection that has not started a session within `start_timeout_s` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from parley.audio.formats import AudioFormat
from parley.dialects.host import LiveSession, SessionHost
from parley.dialects.limits import Decision, InputGuard, Limits, Verdict
from parley.dialects.outbox import Outbox
from parley.dialects.socket import Socket, Take
from parley.engine.events import Command, Disconnected, EndReason, Stop

log = logging.getLogger("parley.dialects")

FLUSH_SECONDS = 5.0
CLOSE_SECONDS = 15.0  # a conversation still closing after this (a hung store) is cancelled
POLICY_CLOSE = 1008
TRY_AGAIN_LATER = 1013  # RFC 6455: the server is full, not the client wrong

# (code, message, fatal): how the dialect shows an error to its client.
ReportError = Callable[[str, str, bool], None]


def _unreported(code: str, message: str, fatal: bool) -> None:
    """The error reporter of a finished connection: there is no one left to tell."""


class Connection:
    def __init__(
        self, socket: Socket, host: SessionHost, limits: Limits, report: ReportError
    ) -> None:
        self.host = host
        self.limits = limits
        self.outbox = Outbox(socket, self._client_not_reading, limits.client_stall_s)
        self.live: LiveSession | None = None
        self._report = report
        self._task: asyncio.Task[Any] | None = None
        self._loop = asyncio.get_running_loop()
        self._guard = InputGuard(limits, self._loop.time())
        self._input_format: AudioFormat | None = None
        self._start_deadline = self._loop.call_later(limits.start_timeout_s, self._not_started)
        self._done = False  # the connection is ending: the dialect reads no further frames
        self._handler: asyncio.Task[Any] | None = None
        self._abandoned = False  # the client stopped reading: the handler is cancelled

    @property
    def done(self) -> bool:
        """Stop reading: the server closes (or has closed) this connection."""
        return self._done or self.outbox.closed

    async def serve(self, handle: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run the dialect's handler for this connection, then `finish`, however it ends.

        The handler runs in a task of its own: every frame it waits for then resumes its few
        coroutines, not the thirty of the ASGI stack (middleware, routing) that called this,
        and a connection waits for a frame fifty times a second. Cancelling the caller
        cancels the handler with it, and the caller resumes only once the handler is done.
        """
        self._handler = handler = asyncio.create_task(handle(), name="parley-connection")
        try:
            await handler
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self._abandoned or (current is not None and current.cancelling()):
                raise
            # we cancelled the handler ourselves: the client stopped reading
        finally:
            await self.finish()

    def start(self, live: LiveSession, input_format: AudioFormat) -> None:
        self.live = live
        self._input_format = input_format
        self._start_deadline.cancel()
        self._task = asyncio.create_task(
            live.conversation.run(), name=f"conversation-{live.session_id}"
        )

    def taker(self, audio: Callable[[bytes], Command | None]) -> Take:
        """A `take` for `Socket.receive`: a binary frame handled in place, as the dialect's
        handler would handle it, whenever that needs no waiting.

        `audio` is the dialect's handling of a binary frame up to delivery (its checks and
        errors); what it returns is submitted. A frame is declined, and so reaches the
        handler, which waits, while the conversation is far behind; it is dropped once the
        connection is done, as the handler would read no further."""

        def take(data: bytes) -> bool:
            if self.done:
                return True
            live = self.live
            if live is not None and not live.conversation.accepting:
                return False
            try:
                command = audio(data)
            except Exception:
                log.exception("could not handle an audio frame")
                self._report("internal_error", "the server could not handle that frame", False)
                return True
            if command is not None and self.live is not None:
                self.live.conversation.submit(command)
            return True

        return take

    # Input limits -------------------------------------------------------------------------------

    def admit_audio(self, data: bytes) -> bool:
        """Whether this audio frame may go to the conversation (a refusal is reported)."""
        source = self._input_format or AudioFormat("linear16", 16000)
        return self._admit(self._guard.audio(source.ms_for_bytes(len(data)), self._loop.time()))

    def admit_message(self) -> bool:
        """Whether a control message may be handled (a refusal is reported)."""
        return self._admit(self._guard.message(self._loop.time()))

    def message_headroom(self) -> tuple[int, int, float]:
        """How many control messages the client may still send: (burst, left, seconds)."""
        return self._guard.message_headroom(self._loop.time())

    def _admit(self, decision: Decision) -> bool:
        if decision.verdict is Verdict.ACCEPT:
            return True
        if decision.verdict is Verdict.DISCONNECT:
            log.warning("disconnecting a flooding client: %s", decision.report)
            self._report("rate_limited", decision.report or "", True)
            self.end("error")
        elif decision.report:
            self._report("rate_limited", decision.report, False)
        return False

    # Ending -------------------------------------------------------------------------------------

    def end(self, reason: EndReason) -> None:
        """End the session (it says goodbye and closes), or close if none started."""
        self._done = True
        if self.live is not None:
            self.live.conversation.submit(Stop(reason))
        else:
            self.outbox.close_after_pending(POLICY_CLOSE, "closed by the server")

    def disconnected(self) -> None:
        if self.live is not None:
            self.live.conversation.submit(Disconnected())

    def _not_started(self) -> None:
        if self.live is None and not self.outbox.closed:
            seconds = self.limits.start_timeout_s
            self._report("start_timeout", f"no session started within {seconds:.0f} s", True)
            self.outbox.close_after_pending(POLICY_CLOSE, "start timeout")

    async def _await_conversation(self, task: asyncio.Task[Any]) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_SECONDS)
        except TimeoutError:
            log.error("conversation %s did not close in %.0f s; cancelling it", task, CLOSE_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, CLOSE_SECONDS)
        except Exception:
            log.exception("conversation task failed")

    def _client_not_reading(self) -> None:
        self._done = self._abandoned = True
        self.disconnected()
        self.outbox.close_after_pending(1011, "client not reading")
        if self._handler is not None and self._handler is not asyncio.current_task():
            self._handler.cancel()

    async def finish(self) -> None:
        """The handler is done, however it ended: end the conversation, await it, flush."""
        self._start_deadline.cancel()
        self.disconnected()  # a no-op for a conversation that has already ended
        if self._task is not None:
            await self._await_conversation(self._task)
        if self.live is not None:
            await self.host.closed(self.live)
        self.outbox.close_after_pending()
        if not self._abandoned:  # a client that stopped reading gets nothing more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wait(), FLUSH_SECONDS)
        await self.outbox.cancel()
        self._let_go()

    def _let_go(self) -> None:
        """Drop the references that tie this connection to its dialect session and its
        conversation (and they to it), so that a finished connection, its socket and every
        frame it never read are freed at once by reference counting: in a cycle they would
        wait for a full collection, which a latency-tuned server runs rarely."""
        self._report = _unreported
        self.outbox.let_go()
        self.live = None
        self._task = self._handler = None
