"""Server-side HTTP tools over real HTTP, and the guard against reaching private networks."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley.engine.agent import ToolEndpoint
from parley.engine.tools import ToolDefinition
from parley.providers.base import ToolSpec
from parley.providers.http_tools import HttpToolRunner, ToolCallFailed
from parley.providers.netguard import AddressPolicy, AddressRefused, guarded_client, is_public
from parley.providers.specs import Placed
from tests.providers.conftest import Served


@pytest.fixture
async def clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []
    yield made
    for client in made:
        await client.aclose()


def tool(url: str, method: str = "POST", headers: dict[str, str] | None = None) -> ToolDefinition:
    spec = ToolSpec("weather", "", {"type": "object", "properties": {}})
    return ToolDefinition(
        spec,
        "http",
        ToolEndpoint(
            url=url,
            method=method,  # type: ignore[arg-type]
            headers=headers or {},
        ),
    )


def runner(
    clients: list[httpx.AsyncClient],
    *allow: str,
    timeout: float = 2.0,
    secrets: tuple[str, ...] = (),
) -> HttpToolRunner:
    """A runner on a guarded client, as the server builds it (`ProviderHub.tool_runner`)."""
    clients.append(guarded_client(AddressPolicy(allow), secrets))
    return HttpToolRunner(clients[-1], timeout)


async def test_post_sends_the_arguments_as_json_and_returns_the_body(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    call = tool(f"{tool_server.url}/weather", headers={"X-Key": "s3cret"})

    result = await runner(clients, "127.0.0.1").run(call, {"city": "Oslo"})

    assert result.text == '{"forecast":"sunny in Oslo"}'
    assert (result.hang_up, result.reaction, result.state) == (False, None, None)
    [seen] = tool_server.fake.calls
    assert seen["method"] == "POST" and seen["body"] == {"city": "Oslo"}
    assert seen["auth"] == "s3cret"
    assert seen["host"] == tool_server.url.removeprefix("http://")


async def test_get_sends_the_arguments_as_the_query(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    result = await runner(clients, "127.0.0.0/8").run(
        tool(f"{tool_server.url}/weather", "GET"), {"city": "Lima", "days": 3}
    )

    assert "sunny in Lima" in result.text
    assert tool_server.fake.calls[0]["query"] == {"city": "Lima", "days": "3"}


@pytest.mark.parametrize(
    ("path", "message"), [("/fail", "HTTP 503"), ("/slow", "did not answer within")]
)
async def test_errors_and_timeouts_are_failures(
    clients: list[httpx.AsyncClient], tool_server: Served, path: str, message: str
) -> None:
    with pytest.raises(ToolCallFailed, match=message):
        await runner(clients, "127.0.0.1", timeout=0.5).run(tool(tool_server.url + path), {})


async def test_loopback_is_refused_unless_allowed(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    with pytest.raises(ToolCallFailed, match=r"127\.0\.0\.1, a private, loopback or link-local"):
        await runner(clients).run(tool(f"{tool_server.url}/weather"), {})
    assert tool_server.fake.calls == []


async def test_a_hostname_that_resolves_to_loopback_is_refused(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    port = tool_server.url.rsplit(":", 1)[1]

    with pytest.raises(ToolCallFailed, match="localhost resolves to"):
        await runner(clients).run(tool(f"http://localhost:{port}/weather"), {})
    assert tool_server.fake.calls == []
    # … and an operator can allow that name explicitly.
    answer = await runner(clients, "localhost").run(
        tool(f"http://localhost:{port}/weather"), {"city": "Rome"}
    )
    assert "sunny" in answer.text


@pytest.mark.parametrize(
    "target",
    [
        "http://10.255.255.1/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x",
        "http://192.168.1.1/",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    clients: list[httpx.AsyncClient], tool_server: Served, target: str
) -> None:
    tool_server.fake.redirect_to = target

    with pytest.raises(ToolCallFailed, match="private, loopback or link-local"):
        await runner(clients, "127.0.0.1").run(tool(f"{tool_server.url}/redirect"), {})


async def test_redirects_within_allowed_addresses_are_followed(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    tool_server.fake.redirect_to = f"{tool_server.url}/weather?city=Quito"

    result = await runner(clients, "127.0.0.1").run(tool(f"{tool_server.url}/redirect"), {})

    assert "sunny in Quito" in result.text
    assert tool_server.fake.calls[0]["method"] == "GET"  # a 302 after POST becomes a GET


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("100.64.0.1", False),
    ],
)
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_the_policy_pins_the_checked_address() -> None:
    target = await AddressPolicy(["localhost"]).check("localhost", 80)

    assert ipaddress.ip_address(target.address).is_loopback
    with pytest.raises(AddressRefused, match="cannot resolve"):
        await AddressPolicy().check("no-such-host.invalid", 80)


def test_allow_entries_are_hosts_or_networks() -> None:
    policy = AddressPolicy(["10.0.0.0/8", "Internal.Example."])
    private: Any = ipaddress.ip_address("10.1.2.3")

    assert policy.permits("anything", private)
    assert policy.permits("internal.example", ipaddress.ip_address("192.168.1.1"))
    assert not policy.permits("other", ipaddress.ip_address("192.168.1.1"))


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1/",  # octal
        "http://0x7f.0.0.1/",  # hex
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]/",
        "http://localhost./",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
    ],
)
async def test_every_spelling_of_a_private_address_is_refused(
    clients: list[httpx.AsyncClient], url: str
) -> None:
    refused = "private, loopback or link-local|not a valid URL|cannot resolve"
    with pytest.raises(ToolCallFailed, match=refused):
        await runner(clients).run(tool(url), {})


async def test_placed_parameters_and_ultravox_answer_headers(
    clients: list[httpx.AsyncClient], tool_server: Served
) -> None:
    placement = [
        Placed(name="order_id", location="path"),
        Placed(name="verbose", location="query"),
        Placed(name="X-Tenant", location="header", value="acme"),
        Placed(name="X-Call", location="header", known="call_id"),
        Placed(name="history", location="body", known="conversation_history"),
    ]
    endpoint = ToolEndpoint(url=f"{tool_server.url}/orders/{{order_id}}", placement=placement)
    definition = ToolDefinition(ToolSpec("lookup", "", {"type": "object"}), "http", endpoint)
    tool_server.fake.answer_headers = {
        "X-Ultravox-Response-Type": "hang-up",
        "X-Ultravox-Agent-Reaction": "listens",
        "X-Ultravox-Update-Call-State": '{"step": 2}',
    }
    facts = {"call_id": "ses_1", "conversation_history": [{"role": "user", "text": "hi"}]}

    answer = await runner(clients, "127.0.0.1").run(
        definition, {"order_id": "A 42", "verbose": True, "note": "fast"}, facts
    )

    [seen] = tool_server.fake.calls
    assert seen["path"] == "A 42"  # quoted on the way, one path segment
    assert seen["query"] == {"verbose": "true"}
    assert seen["headers"]["x-tenant"] == "acme" and seen["headers"]["x-call"] == "ses_1"
    assert seen["body"] == {"note": "fast", "history": [{"role": "user", "text": "hi"}]}
    assert (answer.hang_up, answer.reaction, answer.state) == (True, "listens", {"step": 2})

    tool_server.fake.answer_headers = {"X-Ultravox-Update-Call-State": "[1, 2]"}
    with pytest.raises(ToolCallFailed, match="not a JSON object"):
        await runner(clients, "127.0.0.1").run(definition, {"order_id": "1"}, facts)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"order_id": ".."}, "may not be '..'"),
        ({}, "no value for path parameter order_id"),
        ({"order_id": "1", "X-Note": "José"}, "printable ASCII"),
        ({"order_id": "1", "X-Note": "a\r\nX-Injected: 1"}, "printable ASCII"),
    ],
)
async def test_placed_parameters_that_cannot_be_sent_fail_clearly(
    clients: list[httpx.AsyncClient], tool_server: Served, arguments: dict[str, Any], problem: str
) -> None:
    placement = [
        Placed(name="order_id", location="path"),
        Placed(name="X-Note", location="header"),
    ]
    endpoint = ToolEndpoint(url=f"{tool_server.url}/orders/{{order_id}}", placement=placement)
    definition = ToolDefinition(ToolSpec("lookup", "", {"type": "object"}), "http", endpoint)
    with pytest.raises(ToolCallFailed, match=problem):
        await runner(clients, "127.0.0.1").run(definition, arguments, {})
    assert tool_server.fake.calls == []
