"""Which network addresses server-side HTTP calls may reach.

An agent's HTTP tools are URLs chosen by API users, so without a guard they could make the
server call its own admin ports, the cloud metadata service or anything on the private
network. Every target is resolved first and refused if any address it resolves to is not
globally routable (private, loopback, link-local — which includes 169.254.169.254 —,
multicast, reserved, unspecified, or an IPv4 address mapped into IPv6), unless the operator
allows it in `PARLEY_HTTP_TOOLS_ALLOW` (host names, or IP addresses / CIDR blocks).

The check returns the address to connect to, and callers connect to exactly that address
(DNS is not asked twice), so a name cannot resolve to a public address for the check and a
private one for the connection. `GuardedTransport` puts the check inside httpx's connection
step, so any HTTP code (our tools, a provider SDK) gets it on every hop, and it keeps the
server's own credentials off those URLs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpcore
import httpx

log = logging.getLogger("parley.providers")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(Exception):
    pass


@dataclass(frozen=True)
class Target:
    host: str
    address: str
    port: int


def _as_network(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class AddressPolicy:
    def __init__(self, allow: Sequence[str] = ()) -> None:
        self._networks = [n for n in (_as_network(e) for e in allow) if n is not None]
        self._hosts = {e.lower().rstrip(".") for e in allow if _as_network(e) is None}

    def permits(self, host: str, address: IPAddress) -> bool:
        if host.lower().rstrip(".") in self._hosts or is_public(address):
            return True
        return any(address in network for network in self._networks)

    async def check(self, host: str, port: int) -> Target:
        """The address to connect to for `host`, or `AddressRefused`."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise AddressRefused(f"cannot resolve {host}: {exc.strerror}") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise AddressRefused(f"{host} has no address")
        for address in addresses:
            if not self.permits(host, address):
                raise AddressRefused(
                    f"{host} resolves to {address}, a private, loopback or link-local address "
                    "(allow it with PARLEY_OUTBOUND_ALLOW)"
                )
        return Target(host, str(addresses[0]), port)


# The transport for client-chosen URLs --------------------------------------------------------

# Headers that carry credentials. On a client-chosen URL they may carry only what the client
# supplied: a value holding one of the server's own secrets is removed before it leaves.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "xi-api-key",
        "x-goog-api-key",
        "cookie",
        "openai-organization",
        "openai-project",
    }
)
MIN_SECRET_CHARS = 8  # shorter values are not secrets worth matching (and would match noise)


Flavour = Literal["httpx", "httpx2"]  # the Anthropic SDK runs on httpx2, a fork with httpx's API


def _modules(flavour: Flavour) -> tuple[Any, Any]:
    if flavour == "httpx2":
        import httpcore2
        import httpx2

        return httpx2, httpcore2
    return httpx, httpcore


class _GuardedBackend:
    """A network backend (httpcore's or httpcore2's) that opens TCP connections only to
    addresses the policy permits, and to exactly the address it checked: the check and the
    connection are one step, so DNS cannot answer differently in between, and every hop of
    a redirect is checked because every hop connects."""

    def __init__(self, policy: AddressPolicy, core: Any) -> None:
        self._policy = policy
        self._core = core
        self._inner = core.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        try:
            target = await self._policy.check(host, port)
        except AddressRefused as refusal:
            raise self._core.ConnectError(str(refusal)) from None
        return await self._inner.connect_tcp(
            target.address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise self._core.ConnectError("unix sockets are not reachable from client-chosen URLs")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """The transport for every URL a client chose (HTTP tools, LLM endpoints, webhooks):
    connections pass the address policy, proxies from the environment are ignored (they
    would be checked instead of the target), and credential headers holding any of the
    server's `secrets` are stripped, whichever SDK or code path put them there."""

    def __init__(
        self,
        policy: AddressPolicy,
        secrets: Iterable[str] = (),
        *,
        flavour: Flavour = "httpx",
        max_connections: int = 200,
    ) -> None:
        http, core = _modules(flavour)
        limits = http.Limits(max_connections=max_connections, max_keepalive_connections=50)
        self._inner = http.AsyncHTTPTransport(trust_env=False, limits=limits)
        # httpx takes no network backend; its pool (the transport's core) does.
        self._inner._pool = core.AsyncConnectionPool(
            ssl_context=http.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy, core),
        )
        self._secrets = tuple({s for s in secrets if len(s) >= MIN_SECRET_CHARS})

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for name in {key.lower() for key in request.headers}:
            if name in CREDENTIAL_HEADERS and self._holds_secret(request.headers[name]):
                log.warning(
                    "removed a server credential from the %s header of a request to %s",
                    name,
                    request.url.host,
                )
                del request.headers[name]
        response: httpx.Response = await self._inner.handle_async_request(request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _holds_secret(self, value: str) -> bool:
        return any(secret in value for secret in self._secrets)


def guarded_client(
    policy: AddressPolicy,
    secrets: Iterable[str] = (),
    *,
    flavour: Flavour = "httpx",
    timeout: float = 30.0,
    max_redirects: int = 3,
) -> Any:
    """An HTTP client (`httpx.AsyncClient`, or httpx2's) for client-chosen URLs (see
    `GuardedTransport`)."""
    http, _ = _modules(flavour)
    return http.AsyncClient(
        transport=GuardedTransport(policy, secrets, flavour=flavour),
        timeout=http.Timeout(timeout, connect=5.0),
        trust_env=False,
        max_redirects=max_redirects,
    )
