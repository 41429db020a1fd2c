"""The REST API (docs/protocols/rest.md, and `POST /v1/voice`) under fuzzed requests, on a real
server: bodies and query strings with lone surrogates (in metadata keys and values too),
NUL, NaN, offsets of 2**63 and more, negative and huge limits, deep nesting, wrong types.
See `tests/fuzz/http.py` for the oracles.
"""

from __future__ import annotations

from hypothesis import given

from tests.fuzz import rest_requests
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.http import play
from tests.fuzz.rest_requests import Call
from tests.fuzz.server import LiveServer

FUZZ = fuzz_settings(100)


@FUZZ
@given(calls=rest_requests.scenarios())
def test_no_request_gets_a_server_error(live_server: LiveServer, calls: list[Call]) -> None:
    play(live_server, calls)
