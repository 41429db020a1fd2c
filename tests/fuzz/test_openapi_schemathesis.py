"""schemathesis against the app's own OpenAPI document: every REST operation, with inputs
generated from its schema (valid and invalid ones), sent to a real server on a loopback port
and authenticated as a real account. The check is `not_a_server_error` (and nothing logged
at ERROR), and the answer conforms to the document: its status is one the operation
documents, its content type and body match the schema documented for that status (every
error is `{"error": {"code", "message"}}`, never FastAPI's `{detail: [...]}`).

The document is taken from `create_app(...).openapi()` when the module is collected (the
lazy `schemathesis.pytest.from_fixture` loader does not work with this pytest); the first
test checks that the running server serves that same document.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from parley.config import Settings
from parley.server.app import create_app
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.server import LiveServer

DOCUMENT = create_app(Settings(api_keys=())).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_fuzzed_document_is_the_one_the_server_serves(live_server: LiveServer) -> None:
    served = httpx.get(f"{live_server.base_url}/openapi.json", trust_env=False, timeout=20)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@fuzz_settings(25)
def test_no_operation_answers_with_a_server_error(
    case: schemathesis.Case[Any], live_server: LiveServer, api_key: str
) -> None:
    response = case.call(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=20,
    )
    live_server.settle()  # a handler may log after it has answered
    errors = live_server.errors.take()
    case.validate_response(response, checks=CHECKS)
    assert not errors, "\n".join(errors)
