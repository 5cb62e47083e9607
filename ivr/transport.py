"""How the caller simulator reaches a webhook: in-process (Flask) or over HTTP."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode, urlsplit

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
