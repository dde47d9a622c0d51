"""Where a webhook may go: the SSRF guard.

A target is refused unless every address its host resolves to is a public unicast address:
loopback, private, link-local (169.254.0.0/16, including the cloud metadata service at
169.254.169.254), carrier-grade NAT (100.64.0.0/10), unspecified, multicast, reserved and
other non-global ranges are refused, and so are IPv4-mapped IPv6 addresses and the IPv6
forms that embed an IPv4 address (6to4, Teredo, NAT64), whatever they embed. The host is
resolved once, here; the sender connects to the address that was checked (never resolving
again), so a DNS answer that changes between check and connect cannot slip past.

https is required, except for the hosts named in ``WEBHOOK_ALLOWED_HOSTS``: the explicit
allow-list with which the local stack and the tests let named hosts (a receiver on loopback)
through the address check too. Nothing here opens a connection.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from autodev.errors import AutodevError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class WebhookRefused(AutodevError):
    """The webhook target is not allowed; no connection was made."""


@dataclass(frozen=True)
class Target:
    """A checked target: connect to ``address``, and name ``host`` in Host and SNI."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str
    allow_listed: bool

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one DNS lookup)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def refusal_reason(address: IPAddress) -> str | None:
    """Why a webhook may not go to ``address``, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"{address} is an IPv4-mapped IPv6 address"
        if address.sixtofour is not None or address.teredo is not None:
            return f"{address} is a tunnelled (6to4/Teredo) IPv6 address"
        if any(address in network for network in _NAT64):
            return f"{address} is a NAT64 address"
        if address.scope_id:
            return f"{address} has a scope id (link-local)"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address == _METADATA:
        return f"{address} is the cloud metadata service (link-local)"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return f"{address} is a carrier-grade NAT (100.64.0.0/10) address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_reserved:
        return f"{address} is a reserved address"
    if address.is_private:
        return f"{address} is a private address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def parse_url(url: str) -> urllib.parse.SplitResult:
    """Check a webhook URL's form (scheme, host, no credentials); InvalidInput if wrong."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("a webhook needs a URL")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise InvalidInput(f"not a valid URL: {error}") from None
    if parts.scheme not in ("https", "http"):
        raise InvalidInput("a webhook URL must start with https://")
    if not parts.hostname:
        raise InvalidInput("a webhook URL needs a host")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL must not carry credentials")
    if port == 0:
        raise InvalidInput("a webhook URL needs a port above 0")
    return parts


def _allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    return host.lower().rstrip(".") in {name.lower().rstrip(".") for name in allowed_hosts}


def _literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, without any DNS lookup.

    Includes the legacy IPv4 forms that resolvers accept (``2130706433``, ``0x7f.1``,
    ``127.1``): parsed here with inet_aton, so that they are checked as the address they are.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if all(char in "0123456789abcdefxABCDEFX." for char in host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_target(
    url: str, *, allowed_hosts: Iterable[str] | None = None, resolver: Resolver | None = None
) -> Target:
    """Resolve and check ``url``; the Target to connect to, or WebhookRefused saying why."""
    if allowed_hosts is None:
        from autodev.config import get_settings

        allowed_hosts = get_settings().webhook_allowed_hosts
    try:
        parts = parse_url(url)
    except InvalidInput as error:
        raise WebhookRefused(f"webhook target refused: {error}") from None
    host = str(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allow_listed = _allowed(host, allowed_hosts)
    if parts.scheme != "https" and not allow_listed:
        raise WebhookRefused(
            f"webhook target refused: {host} needs https (plain http only for hosts in "
            "WEBHOOK_ALLOWED_HOSTS)"
        )
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as error:
            raise WebhookRefused(
                f"webhook target refused: cannot resolve {host}: {error}"
            ) from None
        if not addresses:
            raise WebhookRefused(f"webhook target refused: {host} resolves to no address")
    if not allow_listed:
        for address in addresses:
            reason = refusal_reason(ipaddress.ip_address(address.split("%")[0]))
            if reason is None and "%" in address:
                reason = f"{address} has a scope id (link-local)"
            if reason is not None:
                via = "" if literal is not None else f"{host} resolves to {address}; "
                raise WebhookRefused(f"webhook target refused: {via}{reason}")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port,
        path=path,
        address=addresses[0],
        allow_listed=allow_listed,
    )
