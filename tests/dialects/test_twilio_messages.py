"""The Twilio Media Streams parser and the mark bookkeeping: pure parts, properties first."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from parley.dialects.twilio import messages
from parley.dialects.twilio.marks import PlayedMarks

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.text(max_size=300))
def test_any_text_parses_to_a_value_never_an_exception(text: str) -> None:
    assert messages.parse(text, 64) is not None


@given(st.sampled_from(["connected", "start", "media", "mark", "dtmf", "stop"]), JSON)
def test_any_shape_of_a_known_event_parses_to_a_value(event: str, body: object) -> None:
    parsed = messages.parse(json.dumps({"event": event, event: body}), 64)
    assert parsed is not None


@given(st.binary(max_size=400))
def test_media_round_trips_its_audio(audio: bytes) -> None:
    frame = json.loads(messages.media("MZ1", audio))
    sent_by_twilio = {
        "event": "media",
        "streamSid": "MZ1",
        "media": {**frame["media"], "track": "inbound"},
    }
    parsed = messages.parse(json.dumps(sent_by_twilio), 64)
    assert parsed == messages.Media(audio)


def test_start_reads_the_call_and_its_parameters() -> None:
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "streamSid": "MZ1",
            "accountSid": "AC1",
            "callSid": "CA1",
            "tracks": ["inbound"],
            "customParameters": {"token": "st_x", "n": 3},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": "MZ1",
    }
    assert messages.parse(json.dumps(start), 64) == messages.Start(
        "MZ1", "CA1", "AC1", {"token": "st_x"}
    )


def test_bad_frames_say_what_is_wrong() -> None:
    cases = {
        "not json": "invalid_json",
        "[]": "invalid_message",
        '{"event": "ring"}': "unknown_event",
        '{"event": "media", "media": {"payload": "%%%"}}': "invalid_message",
        '{"event": "media", "media": {"track": "outbound", "payload": ""}}': "invalid_message",
        '{"event": "dtmf", "dtmf": {"digit": "12"}}': "invalid_message",
        '{"event": "start", "start": {"streamSid": "MZ", "callSid": "CA", '
        '"mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000}}}': "unsupported_format",
    }
    for text, code in cases.items():
        parsed = messages.parse(text, 64)
        assert isinstance(parsed, messages.ProtocolError) and parsed.code == code, text
    assert (
        base64.b64decode(json.loads(messages.media("MZ", b"\xff"))["media"]["payload"]) == b"\xff"
    )


@given(st.lists(st.floats(min_value=1, max_value=200), min_size=1, max_size=50), st.data())
def test_an_echoed_mark_reports_all_audio_sent_before_it(
    batches: list[float], data: st.DataObject
) -> None:
    marks = PlayedMarks()
    names = [marks.sent(ms) for ms in batches]
    upto = data.draw(st.integers(0, len(names) - 1))
    played = marks.echoed(names[upto])
    assert played is not None
    assert abs(played - sum(batches[: upto + 1])) < 1e-6
    for earlier in names[: upto + 1]:
        assert marks.echoed(earlier) is None, "a mark counts once; earlier ones are implied"


@given(st.lists(st.floats(min_value=1, max_value=200), min_size=1, max_size=20))
def test_marks_echoed_after_a_clear_mean_nothing_and_sent_audio_still_counts(
    batches: list[float],
) -> None:
    marks = PlayedMarks()
    names = [marks.sent(ms) for ms in batches]
    marks.clear()
    assert all(marks.echoed(name) is None for name in names)
    after = marks.sent(20)
    assert marks.echoed(after) == sum(batches) + 20
