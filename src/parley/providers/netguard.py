"""Which network addresses server-side HTTP calls may reach.

An agent's HTTP tools are URLs chosen by API users, so without a guard they could make the
server call its own admin ports, the cloud metadata service or anything on the private
network. Every target is resolved first and refused if any address it resolves to is not
globally routable (private, loopback, link-local — which includes 169.254.169.254 —,
multicast, reserved, unspecified, or an IPv4 address mapped into IPv6), unless the operator
allows it in `PARLEY_HTTP_TOOLS_ALLOW` (host names, or IP addresses / CIDR blocks).

The check returns the address to connect to, and callers connect to exactly that address
(DNS is not asked twice), so a name cannot resolve to a public address for the check and a
private one for the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

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
                    "(allow it with PARLEY_HTTP_TOOLS_ALLOW)"
                )
        return Target(host, str(addresses[0]), port)
