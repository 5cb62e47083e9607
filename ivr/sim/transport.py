"""How the caller simulator reaches a webhook: in-process (Flask) or over HTTP."""

from __future__ import annotations

import contextvars
import http.client
import io
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient


class SimulatorError(Exception):
    """The simulated call cannot go on the way the caller's script asked."""


class WebhookError(SimulatorError):
    """The webhook answered something Twilio itself would reject."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        """Keep the HTTP status and body, and show the body in the message."""
        detail = body.decode("utf-8", errors="replace")
        super().__init__(f"{message}\n--- body ---\n{detail}" if detail else message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Reply:
    """One HTTP answer from the webhook."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Carries Twilio's webhook requests to the app under test."""

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST `form` to the absolute `url`."""
        ...

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET the absolute `url` (its query string carries the parameters)."""
        ...


class FlaskTransport:
    """Calls a Flask app in-process so that `request.url` equals the absolute URL posted."""

    def __init__(self, app_or_client: Flask | FlaskClient) -> None:
        """Wrap an app (a fresh test client is made) or an existing test client."""
        client = app_or_client
        self.client = client.test_client() if isinstance(client, Flask) else client

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST through the test client."""
        return self._open("POST", url, headers, form)

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET through the test client."""
        return self._open("GET", url, headers, None)

    def _open(
        self, method: str, url: str, headers: dict[str, str], form: dict[str, str] | None
    ) -> Reply:
        """Split the URL so scheme and host become the WSGI base URL, as a real server sees."""
        parts = urlsplit(url)
        response = self.client.open(
            parts.path or "/",
            method=method,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            data=form,
            headers=headers,
        )
        try:
            return Reply(
                response.status_code,
                response.get_data(),
                response.content_type or "",
                dict(response.headers),
            )
        finally:
            response.close()


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FreshContextTransport(FlaskTransport):
    """A FlaskTransport whose requests run outside the caller's own app context.

    Flask reuses an active app context for requests, so a request's database session (kept
    in `g`) would otherwise outlive the request; a server never shares one.
    """

    def _open(
        self, method: str, url: str, headers: dict[str, str], form: dict[str, str] | None
    ) -> Reply:
        """Make the request in a fresh context, as a server would."""
        return contextvars.Context().run(super()._open, method, url, headers, form)


class WsgiTransport:
    """Calls a WSGI app (a Flask app) directly with the environ a WSGI server would build.

    The same requests as FlaskTransport, without the test client's request builder and
    cookie jar, which cost more than some views; the QA runner makes thousands of calls.
    """

    def __init__(self, app: WsgiApp) -> None:
        """Wrap the app's WSGI callable."""
        self.app = app

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST the form urlencoded, as Twilio does."""
        return self._open("POST", url, headers, urlencode(form).encode())

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET the URL (its query string carries the parameters)."""
        return self._open("GET", url, headers, None)

    def _open(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        """Run one request through the app and gather its whole answer."""
        answer: dict[str, Any] = {}

        def start_response(status: str, pairs: list[tuple[str, str]], _exc: Any = None) -> Any:
            """Keep the status line and headers (PEP 3333)."""
            answer["status"], answer["headers"] = status, dict(pairs)
            return lambda _data: None  # the legacy write() callable; our apps never use it

        chunks = self.app(_environ(method, url, headers, body), start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        head = answer["headers"]
        return Reply(int(answer["status"].split(" ", 1)[0]), data, head.get("Content-Type", ""),
                     head)  # fmt: skip


def _environ(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict:
    """The WSGI environ of a request to the absolute `url`, from 127.0.0.1, as a server sees."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        # PEP 3333: the path percent-decoded, its UTF-8 bytes carried as latin-1.
        "PATH_INFO": unquote(parts.path or "/").encode().decode("latin-1"),
        "QUERY_STRING": parts.query, "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(parts.port or (443 if secure else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": parts.netloc,
        "wsgi.version": (1, 0), "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body or b""), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    if body is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


class HttpTransport:
    """Calls a deployed hotline over HTTP(S) with the standard library."""

    def __init__(self, timeout: float = 15.0) -> None:
        """Twilio waits 15 s for a webhook, so that is the default."""
        self.timeout = timeout

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST the form urlencoded, as Twilio does."""
        return self._open(urllib.request.Request(url, urlencode(form).encode(), headers))

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET the URL."""
        return self._open(urllib.request.Request(url, headers=headers, method="GET"))

    def _open(self, request: urllib.request.Request) -> Reply:
        """Turn HTTP errors into replies so the caller judges every status the same way."""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                headers = dict(response.headers.items())
                return Reply(response.status, response.read(), headers.get("Content-Type", ""),
                             headers)  # fmt: skip
        except urllib.error.HTTPError as exc:
            with exc:
                headers = dict(exc.headers.items())
                return Reply(exc.code, exc.read(), headers.get("Content-Type", ""), headers)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # A refused connection, a timeout, or one dropped in the middle of the answer.
            raise WebhookError(f"{request.full_url} unreachable: {exc!r}") from exc
