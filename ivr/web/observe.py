"""Operations: one JSON log line per request, and Prometheus metrics at GET /metrics.

Views leave what a step did on `g` (`note_step`); the after-request hook turns it into
the log line and the counters. Nothing here ever sees a caller number, keys or an ID.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOG_FORMATS = ("json", "text")
# A read-back URL's last part is a bearer token: logs show only that there was one.
_TOKEN_PATH = re.compile(r"^(/audio/calls/[^/]+/)[^/]+$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

metrics_view = Blueprint("metrics", __name__)


@dataclass(frozen=True)
class Metrics:
    """The hotline's Prometheus metrics, in a registry of their own (one per app)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    calls: Counter
    refused: Counter
    verification_failures: Counter
    lockouts: Counter
    rate_limited: Counter

    @classmethod
    def create(cls) -> Metrics:
        """Fresh metrics; per app, so that tests may build many apps in one process."""
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter("ivr_requests", "HTTP requests by route and status",
                             ["route", "method", "status"], registry=registry),
            latency=Histogram("ivr_request_seconds", "Request latency by route", ["route"],
                              buckets=_LATENCY_BUCKETS, registry=registry),
            calls=Counter("ivr_calls", "Calls by how they ended, each counted once",
                          ["outcome"], registry=registry),
            refused=Counter("ivr_refused", "Requests answered with an apology and a hang-up",
                            ["reason"], registry=registry),
            verification_failures=Counter("ivr_verification_failures",
                                          "Failed PIN verifications by result", ["result"],
                                          registry=registry),
            lockouts=Counter("ivr_lockouts", "Lock-outs by wrong PINs (unknown numbers too)",
                             registry=registry),
            rate_limited=Counter("ivr_rate_limited", "Requests over a rate limit", ["scope"],
                                 registry=registry),
        )  # fmt: skip


def use_multiprocess(folder: str) -> None:
    """Make this (forked worker) process write its metrics where /metrics can sum them."""
    os.environ[MULTIPROC_ENV] = folder
    # prometheus_client chooses file-backed values when it is imported, in the parent
    # here; metrics made after this line in the worker use them.
    values.ValueClass = values.get_value_class()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in self.STANDARD})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(fmt: str) -> None:
    """Send the `ivr` loggers to stderr as JSON (or plain text), once per process."""
    logger = logging.getLogger("ivr")
    logger.setLevel(logging.INFO)
    handler = next((h for h in logger.handlers if getattr(h, "ivr", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.ivr = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))  # fmt: skip


def note_step(node: str, outcomes: list[str]) -> None:
    """Record what this webhook step did, for its log line and the call metrics."""
    g.step_node, g.step_outcomes = node, outcomes


def note_call_end(outcome: str) -> None:
    """Record that this request ended a call, and how (agent, locked, abandoned, …)."""
    g.call_outcome = outcome


def note_lost(count: int) -> None:
    """Record that this request closed `count` idle calls as lost (ivr/web/lost.py)."""
    g.lost_calls = count


def note_refused(reason: str, scope: str = "") -> None:
    """Record that the caller heard an apology and a hang-up: busy, error or rate_limited.

    Not a call outcome: Twilio's status callback then reports the call over, and it is
    counted there once (as abandoned), so that no call is counted twice.
    """
    g.refused, g.rate_scope = reason, scope


def forget_step() -> None:
    """Drop what a rolled-back step noted: it did not happen."""
    for name in ("step_node", "step_outcomes", "call_outcome"):
        g.pop(name, None)


def call_outcome(outcomes: list[str]) -> str:
    """How a call ended, from the outcomes of its last step."""
    said = " ".join(outcomes)
    for marker, outcome in (("transfer", "agent"), ("locked", "locked"), ("throttled", "throttled"),
                            ("no_input limit", "no_input"), ("invalid limit", "invalid"),
                            ("auth wrong", "verification_failed")):  # fmt: skip
        if marker in said:
            return outcome
    return "completed"


def install(app: Flask, metrics: Metrics) -> None:
    """Time every request, then log it and count it."""
    app.extensions["ivr_metrics"] = metrics
    app.before_request(_start_clock)
    app.after_request(_finish)
    app.register_blueprint(metrics_view)


def _start_clock() -> None:
    """Note when the request began."""
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    """Log the request as one line and update the metrics; never fail the request."""
    try:
        _observe(response)
    except Exception:  # a full disk or a bad metrics folder must not turn into a 500
        logging.getLogger(__name__).exception("request not logged or counted")
    return response


def _observe(response: Response) -> None:
    """Count and log one finished request."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics: Metrics = current_app.extensions["ivr_metrics"]
    if route != "/metrics":
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(seconds)
    _count_call(metrics)
    fields = {
        "method": request.method,
        "path": _TOKEN_PATH.sub(r"\1…", request.path),
        "status": response.status_code,
        "latency_ms": round(seconds * 1000, 2),
        "call_sid": g.get("call_sid"),
        "node": g.get("step_node"),
        "outcome": "; ".join(g.get("step_outcomes") or ()) or None,
        "call_end": g.get("call_outcome"),
        "refused": g.get("refused"),
        "lost_calls": g.get("lost_calls"),
    }
    # IVR_REQUEST_LOG is False only for the QA commands' in-process app: lines for simulated
    # calls would bury the terminal. (Not a logger level: all apps share the logger.)
    if current_app.config.get("IVR_REQUEST_LOG", True):
        _log_request({k: v for k, v in fields.items() if v is not None})


def _log_request(fields: dict[str, Any]) -> None:
    """The request's log line, through the app logger's handlers, as logger.info would.

    Built directly: logger.info walks the stack for the caller's file and line on every
    request, which no log line shows and which cost a fifth of the line.
    """
    logger = current_app.logger
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (),
                                        None, extra=fields))  # fmt: skip


def _count_call(metrics: Metrics) -> None:
    """Count verification failures, lock-outs and ended calls that this request saw."""
    outcomes = g.get("step_outcomes") or []
    for outcome in outcomes:
        if outcome.startswith("auth ") and outcome != "auth ok":
            metrics.verification_failures.labels(outcome.removeprefix("auth ")).inc()
        if outcome == "auth just_locked":
            metrics.lockouts.inc()
    if g.get("call_outcome"):
        metrics.calls.labels(g.call_outcome).inc()
    if g.get("lost_calls"):  # other calls, closed by this request's sweep
        metrics.calls.labels("lost").inc(g.lost_calls)
    if g.get("refused"):
        metrics.refused.labels(g.refused).inc()
        if g.refused == "rate_limited":
            metrics.rate_limited.labels(g.rate_scope).inc()


@metrics_view.get("/metrics")
def scrape() -> Response:
    """Prometheus metrics: summed over every worker when gunicorn runs several."""
    token = current_app.config.get("IVR_METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "").encode()
    if token and not hmac.compare_digest(given, f"Bearer {token}".encode()):
        return Response("metrics need the bearer token (IVR_METRICS_TOKEN)\n", 401,
                        mimetype="text/plain")  # fmt: skip
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = current_app.extensions["ivr_metrics"].registry
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")
