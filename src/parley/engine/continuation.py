"""A caller who goes on talking before the reply could mean anything to them continues
their turn.

The end of a turn is a guess (a silence, the end-of-turn model), and a wrong one costs
more than the wait it saved. A caller who pauses a breath inside "can you tell me how long
the delivery takes | to the city centre" may have the turn ended at "takes?", a whole
question on its own; they go on as the reply begins, and the speech over the reply is a
barge-in. Taken as a new turn, the reply was cut and "to the city centre" answered alone:
the model saw the question in two pieces, its answer to the first was lost, and the caller
got an answer to half a sentence. People do not hear it that way: they hear one sentence.

So speech over the agent that takes the turn (a barge-in confirmed by any path) *continues*
the caller's latest turn when

- the reply it cuts is the server's own answer to that turn (not a greeting, a scripted
  line, a client's `Respond` or an out-of-band reply), and nothing but that reply has
  entered the conversation since the turn: its words, and knowledge searches it made (a
  search changes nothing; any other tool call did something, and the turn stays as it
  was); and
- it began before the reply had played `REACTION_MS`: too soon to be an answer to anything
  the reply said (it had not been heard, or only its first word or two).

Then the reply is *withdrawn*: nothing of it enters the history (its words, its searches:
the new answer searches again, for the whole question) or the transcript (the caller
talked over it before it meant anything; a search it made stays on record as a tool call),
the caller's words are added to their turn (in the history, so the model sees one
utterance; in the transcript as a row of the same turn, so nothing said is lost), and the
turn is answered again. If the speech comes to nothing (no words, too short, recognition
failed), the turn is still answered again: the core owes that answer from the moment the
reply is withdrawn.

Pure functions of the core's state, run inside one `SessionCore.handle` call.
"""

from __future__ import annotations

from parley.engine.history import Entry, History, Invocation, Said
from parley.engine.response import Response
from parley.engine.tools import SEARCHES

# A caller who answers what the reply said has heard a word or two of it and planned a
# reply: speech that starts sooner than this into the reply's audio goes on with the turn.
REACTION_MS = 500.0


def can_continue(response: Response | None, history: History, turn: int, onset: float) -> bool:
    """Whether speech that began at `onset` over `response` would continue the caller's
    turn `turn` (the latest)."""
    if response is None or turn == 0 or response.turn != turn or response.rounds == 0:
        return False
    if response.out_of_band or response.instructions is not None or response.tools is not None:
        return False  # a client's own request, not the server's answer to the turn
    first_audio = response.timing.first_frame
    if first_audio is not None and onset >= first_audio + REACTION_MS / 1000:
        return False
    since = _since_turn(history)
    return since is not None and all(_part_of_a_reply(entry) for entry in since)


def withdraw_searches(history: History) -> None:
    """Take the searches made since the caller's latest turn out of the history (the
    reply they served is withdrawn)."""
    since = _since_turn(history) or []
    for entry in since:
        if isinstance(entry, Invocation):
            history.entries.remove(entry)


def extend_turn(history: History, text: str) -> bool:
    """Add `text` to the caller's turn, if it is still the last thing said (False if not:
    then it is a turn of its own)."""
    if _since_turn(history) != []:
        return False
    entry = history.entries[-1]
    assert isinstance(entry, Said)
    entry.text = f"{entry.text} {text}".strip()
    return True


def _since_turn(history: History) -> list[Entry] | None:
    """The entries after the caller's latest turn (None: the caller has not spoken)."""
    entries = history.entries
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if isinstance(entry, Said) and entry.role == "user":
            return entries[index + 1 :]
    return None


def _part_of_a_reply(entry: Entry) -> bool:
    if isinstance(entry, Said):
        return entry.role == "agent"
    return entry.call.name in SEARCHES
