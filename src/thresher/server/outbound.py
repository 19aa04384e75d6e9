"""Requests the server makes to URLs a user gave (webhooks), kept off internal addresses (SSRF).

A webhook URL could otherwise make the server post to its own loopback services, the cloud
metadata endpoint (``169.254.169.254``) or the private network behind it. ``check_url`` refuses
every address that is not globally routable (loopback, link-local, private, carrier-grade NAT,
multicast, reserved, unspecified; IPv4 inside IPv6 is unwrapped first) unless the setting
``THRESHER_WEBHOOKS_ALLOW_PRIVATE`` allows them. A webhook is checked when it is saved and again
at each delivery, on what its name resolves to then (DNS can change), and ``pinned`` sends the
request to the address that was checked, so a name cannot answer a public address to the check
and a private one to the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_SETTING = "THRESHER_WEBHOOKS_ALLOW_PRIVATE"


class RefusedAddress(Exception):
    """The URL's host is, or resolves to, an address the server must not call."""


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return inner
    return ip


def refusal(address: str) -> str | None:
    """Why ``address`` (an IP literal) may not be called, or None when it is a public address."""
    ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))  # drop an IPv6 zone id
    if ip.is_loopback:
        why = "a loopback address"
    elif ip.is_unspecified:
        why = "the unspecified address (it reaches this host)"
    elif ip.is_link_local:
        why = "a link-local address (cloud metadata lives there)"
    elif ip.is_private:
        why = "a private address"
    elif not ip.is_global:
        why = "not a public address"
    else:
        return None
    return f"{ip} is {why}"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now (raises ``OSError`` when it does not resolve)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Checked:
    """A URL whose host was checked, and the address to connect to (None when nothing was resolved)."""

    url: httpx.URL
    address: str | None
    addresses: list[str] = field(default_factory=list)


def check_url(url: str, *, allow_private: bool, must_resolve: bool = True) -> Checked:
    """Check that ``url`` leads to public addresses only; every address the name resolves to counts.

    Raises ``RefusedAddress`` naming the address and the setting that would allow it. With
    ``must_resolve=False`` a name that does not resolve now passes (it is checked again at delivery);
    otherwise the ``OSError`` of the lookup is raised. With ``allow_private`` nothing is refused, but a
    delivery still resolves and pins (one code path whatever the setting).
    """
    parsed = httpx.URL(url)
    if allow_private and not must_resolve:
        return Checked(parsed, None)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except OSError:
            if must_resolve:
                raise
            return Checked(parsed, None)
    for address in [] if allow_private else addresses:
        why = refusal(address)
        if why is not None:
            named = "" if literal is not None else f"{host} resolves to "
            raise RefusedAddress(f"{named}{why}; set {ALLOW_SETTING}=true to allow internal receivers")
    return Checked(parsed, addresses[0], addresses)


def pinned(checked: Checked) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The URL with the checked address in place of the name, the ``Host`` header and the TLS server
    name to send with it, so the connection goes where the check looked (certificates are still
    verified against the name)."""
    url = checked.url
    if checked.address is None or _literal(url.host) is not None:
        return url, {}, {}
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=checked.address), {"Host": host_header}, extensions
