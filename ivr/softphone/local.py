"""Who may use the softphone: this machine, through its own page, and nothing else.

A loopback client address alone is not enough. A web page from anywhere runs in the
developer's browser, on this machine: it may post to the softphone (a `text/plain` POST
needs no CORS preflight), or rebind its own name to 127.0.0.1 and read the answers too.
So the Host must be a loopback name, and a request that changes anything must come from
the page's own origin with a JSON body, which no other site can send without a preflight.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Request

# A proxy or tunnel (ngrok, say) connects from this machine but adds one of these.
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Forwarded-Host")
CHANGES_STATE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed(request: Request) -> bool:
    """True for this machine's own page or tools; anything else must not learn we exist."""
    if not (_loopback_client(request) and _loopback_host(request.host)):
        return False
    if request.method not in CHANGES_STATE:
        return True
    origin = request.headers.get("Origin")
    own = _origin(f"{request.scheme}://{request.host}")
    if origin is not None and (own is None or _origin(origin) != own):
        return False
    return request.mimetype == "application/json"


def _loopback_client(request: Request) -> bool:
    """A loopback client, with no header of a proxy that forwarded it."""
    if any(name in request.headers for name in FORWARDED):
        return False
    return _is_loopback(request.remote_addr or "")


def _loopback_host(host: str) -> bool:
    """A Host header naming this machine: localhost or a loopback address, any port."""
    split = _split_host(host)
    if split is None:
        return False
    name = split[0]
    return name == "localhost" or _is_loopback(name)


def _is_loopback(address: str) -> bool:
    """True for an IP address in 127.0.0.0/8 or ::1."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # no address at all (a Unix socket), a name, or not an IP one
        return False


def _split_host(host: str) -> tuple[str, int | None] | None:
    """(lower-case name without brackets, port or None) of a Host value; None if malformed."""
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return None
    name = parts.hostname
    if not name or parts.netloc != host or "@" in host:
        return None  # a path, a query or user info: not a Host value
    return name, port


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """A web origin as (scheme, host, port), the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    split = _split_host(parts.netloc)
    if split is None or parts.path or parts.query or parts.fragment:
        return None
    scheme = parts.scheme.lower()
    name, port = split
    return scheme, name, DEFAULT_PORTS.get(scheme) if port is None else port
