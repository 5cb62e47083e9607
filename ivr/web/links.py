"""Links as Twilio sees them: behind IVR_PUBLIC_URL, or through a tunnel or proxy."""

from __future__ import annotations

import re

from flask import current_app, request

# A host name or an IPv4/IPv6 address, with an optional port.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def public_url() -> str:
    """The URL Twilio signed: from IVR_PUBLIC_URL, else from the X-Forwarded-* headers."""
    query = request.query_string.decode("latin-1")
    return absolute(request.script_root + request.path + (f"?{query}" if query else ""))


def absolute(path: str) -> str:
    """A path of this app as an absolute URL: under IVR_PUBLIC_URL, else the host Twilio used."""
    base = public_base()
    if base:
        return base + path.removeprefix(request.script_root)
    # Behind a tunnel or proxy the first hop's values are the ones Twilio used. They are
    # only taken when well-formed: they end up in the TwiML, which must stay valid XML.
    proto = _first("X-Forwarded-Proto").lower()
    host = _first("X-Forwarded-Host")
    proto = proto if proto in ("http", "https") else request.scheme
    host = host if _HOST.fullmatch(host) else request.host
    return f"{proto}://{host}{path}"


def _first(header: str) -> str:
    """The first value of a forwarded header (the hop nearest the client), or ""."""
    return request.headers.get(header, "").split(",")[0].strip()


def public_path(path: str) -> str:
    """A path of this app as Twilio should call it."""
    base = public_base()
    return base + path.removeprefix(request.script_root) if base else path


def public_base() -> str:
    """IVR_PUBLIC_URL without its trailing slash, or "" when unset."""
    return str(current_app.config.get("IVR_PUBLIC_URL") or "").rstrip("/")
