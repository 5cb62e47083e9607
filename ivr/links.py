"""Links as Twilio sees them: behind IVR_PUBLIC_URL, or through a tunnel or proxy."""

from __future__ import annotations

from flask import current_app, request


def public_url() -> str:
    """The URL Twilio signed: from IVR_PUBLIC_URL, else from the X-Forwarded-* headers."""
    query = request.query_string.decode("latin-1")
    return absolute(request.script_root + request.path + (f"?{query}" if query else ""))


def absolute(path: str) -> str:
    """A path of this app as an absolute URL: under IVR_PUBLIC_URL, else the host Twilio used."""
    base = public_base()
    if base:
        return base + path.removeprefix(request.script_root)
    # Behind a tunnel or proxy the first hop's values are the ones Twilio used.
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}{path}"


def public_path(path: str) -> str:
    """A path of this app as Twilio should call it."""
    base = public_base()
    return base + path.removeprefix(request.script_root) if base else path


def public_base() -> str:
    """IVR_PUBLIC_URL without its trailing slash, or "" when unset."""
    return str(current_app.config.get("IVR_PUBLIC_URL") or "").rstrip("/")
