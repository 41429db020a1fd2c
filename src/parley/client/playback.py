"""A recording of a call as the caller experienced it, both sides on one clock.

The caller's audio is placed where it was sent. The agent's audio is placed as a player
would play it: in arrival order, never before it arrived, each chunk after the previous one;
on `interrupted` (or `paused`: the agent holds for speech over it, and sends again what was
dropped if it goes on) everything not yet played is dropped, as a real client's buffer would
be.
The result is a stereo recording (caller left, agent right) that sounds like the call.
"""

from __future__ import annotations

import numpy as np

from parley.audio.pcm import Int16Array


class CallRecording:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._caller = np.zeros(rate * 10, dtype=np.int16)
        self._agent = np.zeros(rate * 10, dtype=np.int16)
        self._caller_end = 0
        self._agent_end = 0  # where the agent's player has queued audio up to, in samples

    def caller(self, samples: Int16Array, at: float) -> None:
        start = int(at * self.rate)
        self._caller = self._place(self._caller, samples, start)
        self._caller_end = max(self._caller_end, start + samples.size)

    def agent(self, samples: Int16Array, at: float) -> None:
        start = max(int(at * self.rate), self._agent_end)
        self._agent = self._place(self._agent, samples, start)
        self._agent_end = start + samples.size

    def interrupted(self, at: float) -> None:
        """Drop the agent audio queued for after `at`."""
        cut = int(at * self.rate)
        if self._agent_end > cut:
            self._agent[cut : self._agent_end] = 0
            self._agent_end = cut

    def agent_played_until(self) -> float:
        return self._agent_end / self.rate

    def tracks(self) -> tuple[Int16Array, Int16Array]:
        length = max(self._caller_end, self._agent_end)
        return self._caller[:length].copy(), self._agent[:length].copy()

    @staticmethod
    def _place(track: Int16Array, samples: Int16Array, start: int) -> Int16Array:
        end = start + samples.size
        if end > track.size:
            grown = np.zeros(max(end, track.size * 2), dtype=np.int16)
            grown[: track.size] = track
            track = grown
        track[start:end] = samples
        return track
