"""What every dialect's fuzz strategies share: labelled frames, nasty values, JSON splicing.

A `Frame` carries what the server must do with it, decided by the strategy that made it from
docs/protocols/ (not from the server's code): `must_error` frames are clearly invalid (not JSON,
not an object, unknown type, a required field missing or mistyped, NUL, a lone surrogate,
nesting too deep, NaN where a number is required, a command before the session has started)
and must be answered with the dialect's error; any other frame is valid or ambiguous and may
be accepted or refused, but never crash the server or drop the connection.

Labels depend on one bit of state, whether the session has started (native `start`, Deepgram
`Settings`), so each frame has one label for before and one for after: the oracle follows
the state the server actually reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.server import MAX_FRAME_BYTES

DEEP = 1000  # JSON nested this deep (or deeper) is refused, never recursed into
SHALLOW = 32  # … and up to this deep it is surely fine; in between the server decides
NUL = "\x00"
SURROGATES = ("\ud800", "\udfff", "a\udbff", "\udc00b", "\ud83d")  # lone halves, as JSON escapes
Json = Any


@dataclass(frozen=True)
class Frame:
    """One client→server frame and what the server must make of it."""

    data: str | bytes
    why: str  # what is wrong with it, or "well-formed"
    errs_before: bool  # must be answered with an error while the session has not started
    errs_after: bool  # … and once it has
    clean: bool = False  # nothing anywhere a strict server might refuse (see `message`)
    opens: bool = False  # a well-formed start/Settings: must start the session
    ends: bool = False  # a well-formed `stop`: once started, must end it (`ended`, close)
    invalid_utf8: bool = False  # bytes sent as a *text* frame

    def must_error(self, started: bool) -> bool:
        return self.errs_after if started else self.errs_before

    def __repr__(self) -> str:
        shown = repr(self.data)
        if len(shown) > 200:
            unit = "bytes" if isinstance(self.data, bytes) else "chars"
            shown = f"{shown[:160]}… ({len(self.data)} {unit})"
        kind = "text frame of bytes" if self.invalid_utf8 else type(self.data).__name__
        return f"Frame({kind} {shown}; {self.why})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints falsifying examples with this (short) form too."""
        printer.text(repr(self))


@dataclass(frozen=True)
class Raw:
    """JSON text spliced into a message as is: nesting too deep for `json.dumps`."""

    text: str
    depth: int


@dataclass
class Draft:
    """A message being drawn: fields are mostly well-formed, now and then broken on purpose
    (each broken field is a reason the frame must be refused). Shrinking moves towards the
    well-formed choice, so a minimal failing example keeps only the culprit."""

    draw: st.DrawFn
    breakable: bool = True
    reasons: list[str] = field(default_factory=list)

    def spiced(self, strings: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        """`strings`, now and then with NUL or a lone surrogate inside (unless unbreakable)."""
        return spiced(strings) if self.breakable else strings

    def broken(self, rate: int = 8) -> bool:
        return self.breakable and self.draw(st.integers(0, rate - 1)) == rate - 1

    def value(self, name: str, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        if self.broken():
            self.reasons.append(f"bad {name}")
            return self.draw(bad)
        return self.draw(good)

    def either(self, name: str, make: Callable[[], Any], bad: st.SearchStrategy[Any]) -> Any:
        """`make()`, or now and then a `bad` value instead (then `make` draws nothing)."""
        if self.broken():
            self.reasons.append(f"bad {name}")
            return self.draw(bad)
        return make()

    def put(
        self,
        target: dict[str, Any],
        name: str,
        good: st.SearchStrategy[Any],
        bad: st.SearchStrategy[Any] | None = None,
        *,
        required: bool = False,
    ) -> None:
        """Maybe set `target[name]`: an optional field is left out half the time, a required
        one only when broken on purpose."""
        if required:
            if self.broken(12):
                self.reasons.append(f"missing {name}")
                return
        elif not self.draw(st.booleans()):
            return
        target[name] = self.draw(good) if bad is None else self.value(name, good, bad)

    def extras(self, target: dict[str, Any]) -> None:
        """Unknown fields: ignored by the server (unless they hold NUL or a lone surrogate);
        tame ones only in an unbreakable draft."""
        if self.draw(st.integers(0, 3)) == 3:
            values = json_values if self.breakable else tame_values
            for key, value in self.draw(st.dictionaries(keys, values, max_size=2)).items():
                target.setdefault(key, value)


def encode(value: Json) -> str:
    """JSON as a client might send it: non-ASCII escaped (so lone surrogates go out as
    `\\ud800`), NaN and Infinity as bare tokens, `Raw` parts spliced in verbatim."""
    raws: list[str] = []

    def swap(item: Json) -> Json:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x01raw{len(raws) - 1}\x01"
        if isinstance(item, dict):
            return {key: swap(child) for key, child in item.items()}
        if isinstance(item, list):
            return [swap(child) for child in item]
        return item

    text = json.dumps(swap(value), allow_nan=True, separators=(",", ":"))
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{index}\x01"), raw, 1)
    return text


def depth_of(text: str) -> int:
    """How deeply a JSON text nests (arrays and objects), ignoring brackets in strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def nasty_in(value: Json) -> str | None:
    """The first NUL or lone surrogate in any key or string of a decoded message."""

    def bad(text: str) -> str | None:
        if NUL in text:
            return "NUL"
        if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
            return "lone surrogate"
        return None

    if isinstance(value, str):
        return bad(value)
    if isinstance(value, dict):
        for key, child in value.items():
            found = bad(key) or nasty_in(child)
            if found:
                return found
    if isinstance(value, list):
        for child in value:
            found = nasty_in(child)
            if found:
                return found
    return None


def size_of(data: str | bytes) -> int:
    return len(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))


def message(
    value: Json,
    reasons: list[str],
    *,
    before: bool | None = None,
    after: bool | None = None,
    read: Json = None,
) -> Frame:
    """A JSON text frame. `reasons` say what was broken on purpose; NUL and lone surrogates
    (in `read`, the part the server reads: all of `value` unless given), too-deep nesting
    and oversize are found here. `before`/`after` force a state's label (a command before
    start is refused however well-formed it is)."""
    text = encode(value)
    found = list(reasons)
    nasty = nasty_in(value if read is None else read)
    if nasty:
        found.append(nasty)
    if depth_of(text) >= DEEP:
        found.append(f"nested {depth_of(text)} deep")
    if size_of(text) > MAX_FRAME_BYTES:
        found.append(f"{size_of(text)} bytes (over the frame limit)")
    refused = bool(found)
    return Frame(
        text,
        "; ".join(found) or "well-formed",
        errs_before=refused if before is None else before or refused,
        errs_after=refused if after is None else after or refused,
        # a server may refuse these anywhere in a frame, even where it reads nothing
        clean=not refused
        and nasty_in(value) is None
        and not non_finite_in(value)
        and depth_of(text) <= SHALLOW,
    )


def non_finite_in(value: Json) -> bool:
    """Whether a decoded message holds NaN or ±Infinity (which JSON itself does not have)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite_in(child) for child in value.values())
    if isinstance(value, list):
        return any(non_finite_in(child) for child in value)
    return False


def opening(frame: Frame) -> Frame:
    """A start/Settings frame: refused once started; a clean one must open the session."""
    return replace(frame, errs_after=True, opens=frame.clean)


# Values ---------------------------------------------------------------------------------------

keys = st.sampled_from(["x", "extra", "_", "k" * 40, "ключ", ""]) | st.text(
    st.characters(exclude_categories=["Cs", "Cc"]), max_size=8
).map(lambda key: f"x-{key}")
nasty_strings = st.sampled_from([NUL, f"a{NUL}b", *SURROGATES, "\ud800\udc00"[::-1]])
plain_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=NUL), min_size=1, max_size=40
)
big_strings = st.integers(2_001, 60_000).map(lambda n: "y" * n)
odd_numbers = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -0.0, 2**63, 2**64, -(2**63) - 1, 10**309, 10**400]
)
numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False) | odd_numbers
depths = st.sampled_from([10, 400, 900, 990, 1000, 1001, 3000, 5000]) | st.integers(1, 5000)


@st.composite
def nested(draw: st.DrawFn) -> Raw:
    """Arrays, objects or both, nested `depth` deep."""
    depth = draw(depths)
    shape = draw(st.sampled_from(["list", "dict", "mixed"]))
    if shape == "list":
        return Raw("[" * depth + "]" * depth, depth)
    if shape == "dict":
        return Raw('{"a":' * depth + "0" + "}" * depth, depth)
    half = depth // 2
    return Raw('[{"a":' * half + "[]" + "}]" * half, 2 * half + 1)


scalars = st.none() | st.booleans() | numbers | plain_text | nasty_strings
trees = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(keys | nasty_strings, children, max_size=3)
    ),
    max_leaves=8,
)
json_values: st.SearchStrategy[Json] = st.one_of(trees, trees, trees, trees, nested())
tame_values: st.SearchStrategy[Json] = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6) | plain_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=6,
)
not_a_string: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), numbers, st.lists(plain_text, max_size=2), st.just({})
)
# A shallow nest of objects is an object (the server rightly takes it); deep, it is refused.
DEPTH_LIMIT = 64  # the server's default `PARLEY_MAX_JSON_DEPTH`
not_an_object: st.SearchStrategy[Any] = st.one_of(
    st.booleans(),
    st.integers(),
    plain_text,
    st.lists(st.integers(), max_size=2),
    nested().filter(lambda raw: not raw.text.startswith("{") or raw.depth > DEPTH_LIMIT),
)
not_a_list: st.SearchStrategy[Any] = st.one_of(
    st.booleans(), st.integers(), plain_text, st.just({"a": 1}), nested()
)


def spiced(strings: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly `strings`; one in eight with NUL or a lone surrogate inside."""
    return st.tuples(st.integers(0, 7), strings, nasty_strings).map(
        lambda drawn: drawn[1] if drawn[0] < 7 else drawn[1][:3] + drawn[2] + drawn[1][3:]
    )


blank = st.sampled_from(["", " ", "\n\t", "\u3000"])


# Frames that are wrong whatever the dialect ------------------------------------------------


def junk_frames(known_types: list[str]) -> st.SearchStrategy[Frame]:
    """Frames no dialect may accept: not JSON, not an object, no string `type`, an unknown
    type, invalid UTF-8 in a text frame, more than the frame limit."""
    refused = {"errs_before": True, "errs_after": True}
    some_type = st.sampled_from(known_types)
    not_json = st.sampled_from(
        ["", " ", "{", "}", "[", "nul\x00", "{'type': 'start'}", '{"type":"stop"} x', "\ufeff{}"]
    ) | some_type.map(lambda kind: encode({"type": kind})[:-1])
    non_objects = st.sampled_from(["1", "[]", '"start"', "null", "true", "NaN", "-Infinity"]) | (
        some_type.map(lambda kind: encode([{"type": kind}]))
    )
    bad_types = (
        st.sampled_from([1, None, True, ["start"], {"t": 1}]).map(lambda t: {"type": t})
        | some_type.map(lambda kind: {"type": kind.upper()})
        | some_type.map(lambda kind: {"type": f" {kind}"})
        | st.just({"payload": {}})
        | plain_text.map(lambda kind: {"type": f"fuzz:{kind}"})
    ).map(encode)
    invalid_utf8 = st.binary(max_size=64).map(lambda data: data + b"\xff\xfe" + data)
    over = st.integers(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 4096)
    oversize = (
        st.tuples(some_type, over).map(
            lambda pair: encode({"type": pair[0], "payload": {}, "pad": "z" * pair[1]})
        )
        # fewer characters than the limit, more bytes: the limit is in bytes
        | st.tuples(some_type, over).map(
            lambda pair: json.dumps(
                {"type": pair[0], "payload": {}, "pad": "é" * (pair[1] // 2 + 1)},
                ensure_ascii=False,
            )
        )
    )
    return st.one_of(
        (not_json | non_objects | bad_types).map(
            lambda text: Frame(text, "not a JSON object with a known type", **refused)
        ),
        nested().map(lambda raw: Frame(raw.text, f"an array nested {raw.depth} deep", **refused)),
        st.tuples(some_type, nested()).map(
            lambda pair: message({"type": pair[0], "payload": {"deep": pair[1]}}, [])
        ),
        oversize.map(lambda text: Frame(text, f"{size_of(text)} bytes, over the limit", **refused)),
        invalid_utf8.map(
            lambda data: Frame(data, "invalid UTF-8 in a text frame", invalid_utf8=True, **refused)
        ),
    )


def audio_bytes(refused_before: bool) -> st.SearchStrategy[Frame]:
    """Binary frames: audio (odd lengths and empty included), or more than the frame limit."""
    audio = st.binary(max_size=3200).map(
        lambda data: Frame(data, "binary audio", errs_before=refused_before, errs_after=False)
    )
    over = st.integers(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 4096).map(
        lambda n: Frame(b"\x01" * n, f"{n} bytes of audio, over the limit", True, True)
    )
    return audio | over
