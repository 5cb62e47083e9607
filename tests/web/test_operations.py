"""What operators watch: Prometheus metrics at /metrics and one JSON log line per request."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from ivr.errors import ConfigError
from ivr.web import observe
from ivr.web.observe import JsonFormatter, call_outcome
from tests.conftest import post_status
from tests.web.test_call_flow import MENU, WANG_KEYED, WELCOME, verify

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: Flask, **headers: str) -> Samples:
    """GET /metrics and parse it: (sample name, sorted labels) -> value."""
    reply = app.test_client().get("/metrics", headers=headers)
    assert reply.status_code == 200 and reply.mimetype == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when it was never counted."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_balance_call_is_counted_and_timed(app: Flask, caller) -> None:
    verify(caller)
    caller.press("1")
    caller.hangup()
    assert post_status(app, caller.call_sid) == 204
    samples = scrape(app)
    ok = {"method": "POST", "status": "200"}
    assert value(samples, "ivr_requests_total", route="/voice", **ok) == 1
    assert value(samples, "ivr_requests_total", route="/voice/keys", **ok) == 4
    assert value(samples, "ivr_request_seconds_count", route="/voice/keys") == 4
    assert value(samples, "ivr_request_seconds_bucket", route="/voice/keys", le="+Inf") == 4
    # Twilio's status callback after the caller hung up: the call was abandoned mid-menu.
    assert value(samples, "ivr_calls_total", outcome="abandoned") == 1
    assert value(samples, "ivr_verification_failures_total", result="wrong") == 0


def test_wrong_pins_and_the_lockout_are_counted(app: Flask, make_caller) -> None:
    for _ in range(3):
        verify(make_caller(), pin="000000")
    samples = scrape(app)
    assert value(samples, "ivr_verification_failures_total", result="wrong") == 2
    assert value(samples, "ivr_verification_failures_total", result="just_locked") == 1
    assert value(samples, "ivr_lockouts_total") == 1


def test_a_call_the_hotline_ends_is_counted_once(app: Flask, caller, clock) -> None:
    """Ended by the engine (too many wrong keys); the later status callback adds nothing."""
    clock.set("2026-11-25T20:00")  # agents closed: the third wrong key hangs up
    caller.dial()
    for _ in range(3):
        caller.press("7")
    assert caller.ended
    post_status(app, caller.call_sid)
    samples = scrape(app)
    assert value(samples, "ivr_calls_total", outcome="invalid") == 1
    assert sum(v for (name, _), v in samples.items() if name == "ivr_calls_total") == 1


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [(["transfer"], "agent"), (["pin entered", "auth just_locked"], "locked"),
     (["auth throttled"], "throttled"), (["no_input limit"], "no_input"),
     (["invalid limit main_menu"], "invalid"), (["pin entered", "auth wrong"],
      "verification_failed"), (["key 0"], "completed")],
)  # fmt: skip
def test_how_a_call_ended(outcomes: list[str], expected: str) -> None:
    assert call_outcome(outcomes) == expected


def test_metrics_can_require_a_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(IVR_METRICS_TOKEN="s3cret")
    assert app.test_client().get("/metrics").status_code == 401
    wrong = app.test_client().get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert ("ivr_lockouts_total", ()) in scrape(app, Authorization="Bearer s3cret")


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    """The request log lines as the JSON formatter writes them."""
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    return [line for line in lines if line["msg"] == "request"]


def test_one_json_line_per_request_with_node_latency_and_outcome(
    app: Flask, caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    verify(caller)
    lines = log_lines(caplog)
    assert [line["path"] for line in lines] == ["/voice"] + ["/voice/keys"] * 3
    assert {line["call_sid"] for line in lines} == {caller.call_sid}
    assert [line["node"] for line in lines][-1] == "ask_pin"
    assert lines[-1]["outcome"] == "pin entered; verified" and lines[-1]["status"] == 200
    assert all(line["latency_ms"] > 0 and line["pid"] > 0 for line in lines)
    assert WANG_KEYED[:-1] not in json.dumps(lines) and "135790" not in json.dumps(lines)


def test_read_back_tokens_never_reach_the_log(
    play_app: Flask, make_caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    caller = make_caller(play_app)
    verify(caller)
    caller.press("1")  # the balance: a private read-back URL, fetched by the caller
    private = [url for url in caller.played if "/audio/calls/" in url]
    assert private
    audio = [line["path"] for line in log_lines(caplog) if "/audio/calls/" in line["path"]]
    assert audio and all(path.endswith("/…") for path in audio)
    text = caplog.text + json.dumps(log_lines(caplog))
    assert not any(url.rsplit("/", 1)[1].removesuffix(".wav") in text for url in private)


@pytest.mark.parametrize("fmt", ["text", "TEXT", "json"])
def test_the_log_format_is_a_setting(make_app: Callable[..., Flask], fmt: str) -> None:
    make_app(IVR_LOG_FORMAT=fmt)
    handler = next(h for h in logging.getLogger("ivr").handlers if getattr(h, "ivr", False))
    assert isinstance(handler.formatter, JsonFormatter) == (fmt == "json")


def test_a_bad_log_format_names_the_setting(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="IVR_LOG_FORMAT.*json or text"):
        make_app(IVR_LOG_FORMAT="xml")


def test_a_refused_call_is_counted_once(make_app: Callable[..., Flask], make_caller,
                                        twiml_checker) -> None:  # fmt: skip
    """Refused mid-call (rate limit), then reported over by Twilio: one call, one outcome."""
    app = make_app(IVR_RATE_LIMIT_CALLER="2/minute")
    caller = make_caller(app)
    caller.dial()
    caller.press("2")
    assert MENU.text("busy") in caller.press("1") and caller.ended
    post_status(app, caller.call_sid)
    samples = scrape(app)
    calls = {labels: v for (name, labels), v in samples.items() if name == "ivr_calls_total"}
    assert calls == {(("outcome", "abandoned"),): 1.0}
    assert value(samples, "ivr_refused_total", reason="rate_limited") == 1
    assert value(samples, "ivr_rate_limited_total", scope="caller") == 1


def test_a_step_that_was_rolled_back_is_not_counted(
    app: Flask, make_caller, caplog: pytest.LogCaptureFixture
) -> None:
    """The database refuses the step's write after the PIN was judged: busy, and no trace
    of the wrong PIN in the metrics or the log."""
    caller = make_caller()
    caller.dial()
    caller.press("2")
    caller.press(WANG_KEYED + "#")
    engine = app.extensions["ivr"].engine
    with engine.begin() as connection:  # a failing write, for real
        connection.execute(text(TRIGGER[connection.dialect.name]))
    caplog.set_level(logging.INFO, logger="ivr")
    try:
        assert MENU.text("busy") in caller.press("000000#")
    finally:  # the PostgreSQL checker outlives the test
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse" + DROP[connection.dialect.name]))
    samples = scrape(app)
    assert value(samples, "ivr_verification_failures_total", result="wrong") == 0
    assert value(samples, "ivr_refused_total", reason="busy") == 1
    assert "outcome" not in log_lines(caplog)[-1]


DROP = {"sqlite": "", "postgresql": " ON call_events; DROP FUNCTION refuse()"}
TRIGGER = {
    "sqlite": "CREATE TRIGGER refuse BEFORE INSERT ON call_events "
    "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    "postgresql": "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS "
    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql; "
    "CREATE TRIGGER refuse BEFORE INSERT ON call_events EXECUTE FUNCTION refuse()",
}


def test_a_metrics_failure_never_fails_the_call(
    app: Flask, caller, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk under the metrics folder, say: the caller still hears the menu."""

    def broken(_metrics) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(observe, "_count_call", broken)
    assert WELCOME in caller.dial()
    assert "request not logged or counted" in caplog.text
