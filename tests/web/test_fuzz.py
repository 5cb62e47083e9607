"""Property-based fuzzing of every route: random forms, keys, queries, paths and methods.

Whatever arrives, the answer is a 4xx without TwiML or a 2xx of the route's own kind (TwiML
that Twilio's checker accepts, 204, audio, ok): never a 500, never a traceback in the body.
Single requests here; whole calls walked step by step are in test_fuzz_walks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr.sim.twiml_check import TwimlChecker
from tests.conftest import AUTH_TOKEN
from tests.fuzz_helpers import (
    BASE,
    FIELD_NAMES,
    FUZZ,
    METHODS,
    POOL,
    TWIML_ROUTES,
    VALID_SID,
    WEBHOOKS,
    Pairs,
    check,
    expected_status,
    first_values,
    form_pairs,
    node_names,
    queries,
    send,
    signed,
    text_without,
)

# --- forms, queries, signatures ------------------------------------------------------------


def test_random_forms_without_signature_checking(
    build: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """Any form at any webhook, token unset: 413, 400, or the route's 200 TwiML / 204."""
    app = build(IVR_AUTH_TOKEN="")
    query = queries(node_names(app))

    @settings(max_examples=120, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), query=query, pairs=form_pairs())
    def run(path: str, query: str, pairs: Pairs) -> None:
        response = send(app, "POST", f"{path}?{query}", urlencode(pairs).encode())
        assert response.status_code == expected_status(path, pairs), response.get_data()[:500]
        check(response, twiml_checker)

    run()


def test_random_raw_bodies(build: Callable[..., Flask], twiml_checker: TwimlChecker) -> None:
    """Bytes that are no proper form (bad escapes, bad UTF-8) are a 4xx or TwiML too."""
    app = build(IVR_AUTH_TOKEN="")
    sid = VALID_SID.map(lambda s: f"CallSid={s}&".encode())
    tail = st.sampled_from([b"", b"%", b"%zz", b"&=&"])
    body = st.tuples(st.just(b"") | sid, st.binary(max_size=300), tail)

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), body=body.map(b"".join))
    def run(path: str, body: bytes) -> None:
        response = send(app, "POST", path, body)
        assert response.status_code in (200, 204, 400), response.get_data()[:500]
        check(response, twiml_checker)

    run()


def test_random_signed_forms(build: Callable[..., Flask], twiml_checker: TwimlChecker) -> None:
    """IVR_AUTH_TOKEN set: a well-signed random request gets what an unchecked one would."""
    app = build()
    query = queries(node_names(app)).map(lambda q: urlencode(parse_qs(q), doseq=True))

    @settings(max_examples=80, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), query=query, pairs=form_pairs())
    def run(path: str, query: str, pairs: Pairs) -> None:
        response = signed(app, f"{path}?{query}" if query else path, pairs)
        assert response.status_code == expected_status(path, pairs), response.get_data()[:500]
        check(response, twiml_checker)

    run()


@st.composite
def forgeries(draw: st.DrawFn, url: str, pairs: Pairs) -> str | None:
    """A signature that does not fit this request: none, garbage, another URL, form or key."""
    form = first_values(pairs)
    other = {**form, draw(FIELD_NAMES): draw(st.text(max_size=10))}
    return draw(st.one_of(
        st.none(), text_without("\r\n", max_size=40),
        st.binary(max_size=20).map(bytes.hex),
        st.just(RequestValidator("another-token").compute_signature(url, form)),
        st.just(RequestValidator(AUTH_TOKEN).compute_signature(url + "&x=1", form)),
        st.just(RequestValidator(AUTH_TOKEN).compute_signature(url, other)),
    ).filter(lambda sig: sig != RequestValidator(AUTH_TOKEN).compute_signature(url, form))
    )  # fmt: skip


def test_random_forged_signatures_are_403(
    build: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """IVR_AUTH_TOKEN set: a request whose signature does not fit is 403 (or 413: too big)."""
    app = build()

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), pairs=form_pairs(), data=st.data())
    def run(path: str, pairs: Pairs, data: st.DataObject) -> None:
        url = f"{BASE}{path}?node=main&seq=1"
        signature = data.draw(forgeries(url, pairs), label="signature")
        response = send(app, "POST", url, urlencode(pairs).encode(), signature=signature)
        # An oversized body may be refused before or after the signature is looked at.
        allowed = (403, 413) if expected_status(path, pairs) == 413 else (403,)
        assert response.status_code in allowed, response.get_data()[:500]
        check(response, twiml_checker)

    run()


def test_random_forms_under_rate_limits(
    build: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """Throttled: a signed call hears the busy message, anything else is a 429, never a 5xx."""
    app = build(IVR_RATE_LIMIT_CALLER="3/minute", IVR_RATE_LIMIT_ADDRESS="20/minute")
    busy = app.extensions["ivr"].menu.text("busy")

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), pairs=form_pairs(), forged=st.booleans())
    def run(path: str, pairs: Pairs, forged: bool) -> None:
        form, body = first_values(pairs), urlencode(pairs).encode()
        signature = RequestValidator("another-token" if forged else AUTH_TOKEN).compute_signature(
            BASE + path, form
        )
        response = send(app, "POST", path, body, signature=signature)
        doc = check(response, twiml_checker)
        expected = expected_status(path, pairs)
        caller = not forged and expected in (200, 204)  # signed, with a well-formed CallSid
        # Status callbacks end calls and their audio URLs: the limits never refuse them.
        limited = path != "/voice/status"
        if doc is not None and doc.says == [busy]:
            assert limited and caller and doc.verbs == ["Say", "Hangup"], (path, pairs)
        elif response.status_code == 429:
            assert limited and not caller and expected != 413, (path, pairs)
        elif forged:
            assert response.status_code in ((403, 413) if expected == 413 else (403,))
        else:
            assert response.status_code == expected, response.get_data()[:500]

    run()


# --- every other route, path and method ----------------------------------------------------


def paths(app: Flask) -> st.SearchStrategy[str]:
    """Real routes, audio names real and not, read-back names, and made-up paths."""
    keys = sorted(app.extensions["ivr"].catalogue.entries)
    segment = text_without("?#/%", min_size=1, max_size=12)
    token = st.from_regex(r"[A-Za-z0-9_-]{32}", fullmatch=True) | segment
    return st.one_of(
        st.sampled_from([*WEBHOOKS, "/healthz", "/metrics", "/", "/voice/", "/audio/calls"]),
        st.sampled_from(keys).map(lambda key: f"/audio/{key}.wav"),
        (st.from_regex(r"[0-9a-f]{32}", fullmatch=True) | segment).map("/audio/{}.wav".format),
        st.tuples(POOL | segment, token).map(lambda p: f"/audio/calls/{p[0]}/{p[1]}.wav"),
        st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    )  # fmt: skip


def test_random_paths_and_methods(agent_play_app: Flask, twiml_checker: TwimlChecker) -> None:
    """Any method at any path, signed or not: 4xx, or the route's own kind of 2xx."""
    app = agent_play_app
    keys = app.extensions["ivr"].catalogue.entries

    @settings(max_examples=120, **FUZZ)
    @given(method=st.sampled_from(METHODS), path=paths(app), pairs=form_pairs(),
           sign=st.booleans())  # fmt: skip
    def run(method: str, path: str, pairs: Pairs, sign: bool) -> None:
        body = urlencode(pairs).encode()
        form = first_values(pairs)
        signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE + path, form)
        response = send(app, method, path, body, signature=signature if sign else None)
        check(response, twiml_checker, method)
        name = path.removeprefix("/audio/").removesuffix(".wav")
        if method in ("GET", "HEAD") and (path == "/healthz" or name in keys):
            assert response.status_code == 200, response.get_data()[:500]
        elif method in ("GET", "HEAD") and path.startswith("/audio/"):
            assert response.status_code == 404, response.get_data()[:500]

    run()


# The test client refuses line breaks in a header; anything else may arrive.
HEADER_TEXT = text_without("\r\n", max_size=30)
PROTOS = st.sampled_from(["https", "http", "https, http"]) | HEADER_TEXT
HOSTS = st.sampled_from(["abc.ngrok.app", "ivr.example.com:8443", "a.ngrok.app, lb"]) | HEADER_TEXT


def test_random_forwarded_headers(
    build: Callable[..., Flask], audio_dir: Path, twiml_checker: TwimlChecker
) -> None:
    """Whatever X-Forwarded-Proto and -Host say, a call gets well-formed TwiML (play mode)."""
    # Play URLs are absolute, built from these headers. Without a token (a developer behind
    # a tunnel) anyone may send them; with one, only Twilio, whose values are sane.
    app = build(IVR_AUTH_TOKEN="", IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir))

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(TWIML_ROUTES), sid=POOL, proto=st.none() | PROTOS,
           host=st.none() | HOSTS)  # fmt: skip
    def run(path: str, sid: str, proto: str | None, host: str | None) -> None:
        sent = {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host}
        headers = {name: value for name, value in sent.items() if value is not None}
        body = urlencode({"CallSid": sid, "Digits": "2"}).encode()
        response = send(app, "POST", path, body, headers=headers)
        assert response.status_code == 200, response.get_data()[:500]
        check(response, twiml_checker)

    run()
