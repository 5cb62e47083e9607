"""Production over real gunicorn processes: one call served by two servers in turn, and a call
that outlives the workers that served it. Each test runs on every backend.

The servers play the fake-rendered prompt audio (with the read-backs' text header), so the
per-call audio URLs are part of what must work across processes. Racing PINs and a crowd of
callers are in test_workers_load.py.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr.sim.caller import Caller, HttpTransport, Reply
from ivr.sim.twiml_check import TwimlChecker
from store.models import Call, CallAudio
from tests.servers import Server, is_alive, process_state, wait_for
from tests.worker_helpers import (
    SIGNAL_WAIT_S,
    STEP_TIMEOUT_S,
    TOKEN,
    WANG_KEYED,
    WANG_PIN,
    expect,
    new_caller,
)

pytestmark = pytest.mark.slow  # real gunicorn servers

BALANCE_WORDS = "一千二百三十四元五角六分"  # 王建国's demo balance, 1234.56
KILL_WORKERS = 2


# --------------------------------------------------------------------------- helpers


def to_balance(caller: Caller) -> str:
    """Dial, pick 医疗保险服务, verify as 王建国 and ask for the balance; return what is heard."""
    expect("welcome", caller.dial())
    expect("ask_id", caller.press("2"))
    expect("ask_pin", caller.press(WANG_KEYED + "#"))
    expect("medical_menu", caller.press(WANG_PIN + "#"))
    return caller.press("1")


class RoundRobin:
    """A load balancer over several servers: webhook POSTs go to each in turn, and every
    GET (the <Play> audio) to a server other than the one that answered the last POST, so
    each read-back is fetched from a process that did not write it."""

    def __init__(self, bases: list[str], timeout: float = STEP_TIMEOUT_S) -> None:
        """Route to `bases`; count what each server served."""
        self.http = HttpTransport(timeout)
        self.hosts = [urlsplit(base).netloc for base in bases]
        self.validator = RequestValidator(TOKEN)
        self.posts = 0
        self.served: Counter[tuple[str, str]] = Counter()  # (host, method) -> requests

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST to the next server in turn."""
        target, headers = self._route("POST", url, form, headers)
        self.posts += 1
        return self.http.post(target, form, headers)

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """GET from the server after the one that answered the last POST."""
        return self.http.get(*self._route("GET", url, {}, headers))

    def _route(self, method: str, url: str, form: dict[str, str], headers: dict[str, str],
               ) -> tuple[str, dict[str, str]]:  # fmt: skip
        """Point the absolute URL at the next server, and sign it for that URL."""
        # Without IVR_PUBLIC_URL, a server checks the signature against the URL it was called at.
        host = self.hosts[self.posts % len(self.hosts)]
        target = urlsplit(url)._replace(netloc=host).geturl()
        if "X-Twilio-Signature" in headers:
            signature = self.validator.compute_signature(target, form)
            headers = {**headers, "X-Twilio-Signature": signature}
        self.served[host, method] += 1
        return target, headers


# --------------------------------------------------------------------------- fixtures


# --------------------------------------------------------------------------- two servers


def test_one_call_alternates_between_two_servers_on_one_database(
    app: Flask, serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker,
) -> None:  # fmt: skip
    """Two servers on one database take turns at one call, which reaches its balance and ends."""
    # Each `serve --workers 1`; the read-back audio is fetched from the server that did not
    # write it, and the end (the status callback) is recorded whichever server gets it.
    servers = launch(serve_env(), workers=1, count=2)
    balancer = RoundRobin([server.base for server in servers])
    caller = new_caller(servers[0].base, twiml_checker, transport=balancer)
    assert BALANCE_WORDS in to_balance(caller), caller.heard_text()
    assert any("/audio/calls/" in url for url in caller.played), caller.played
    caller.hangup()
    for server in servers:
        host = urlsplit(server.base).netloc
        assert balancer.served[host, "POST"] >= 2, (balancer.served, server.log())
        assert balancer.served[host, "GET"] >= 2, (balancer.served, server.log())
    with app.extensions["ivr"].sessions() as session:
        call = session.get(Call, caller.call_sid)
        assert call is not None and call.verified and call.ended
        audio = select(func.count()).where(CallAudio.call_sid == caller.call_sid)
        assert session.scalar(audio) == 0, "the call's read-back audio outlived its end"


# --------------------------------------------------------------------------- killed workers


def start_time(pid: int) -> int:
    """When a process started, in clock ticks since boot (field 22 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def settled_workers(server: Server, count: int) -> set[int]:
    """The workers once there are `count` of them (the arbiter respawns the killed ones)."""
    wait_for(
        lambda: len(server.workers()) == count,
        SIGNAL_WAIT_S,
        lambda: f"expected {count} workers, got {server.workers()}\n{server.log()}",
    )
    return server.workers()


def serve_on_one_worker_then_kill(server: Server, action: Callable[[], str]) -> tuple[str, int]:
    """Run a caller action on one worker, the others frozen; SIGKILL it; (heard, its pid)."""
    # Sure to kill the worker that served, whatever the log says: every other worker is
    # stopped (SIGSTOP, and seen stopped in /proc) before the step, and a stopped process
    # cannot accept a connection, so the one left running serves the whole step, POST and
    # audio GETs alike. The count is settled first, so no new worker can be spawned meanwhile.
    pids = settled_workers(server, KILL_WORKERS)
    # The oldest worker serves: after a kill that is the survivor (another worker takes the
    # call), and after the next kill the respawned one.
    chosen = min(pids, key=start_time)
    frozen = pids - {chosen}
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: all(process_state(pid) == "T" for pid in frozen),
            SIGNAL_WAIT_S,
            lambda: f"workers {frozen} not stopped: {[process_state(p) for p in frozen]}",
        )
        heard = action()
    finally:
        os.kill(chosen, signal.SIGKILL)
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: not is_alive(chosen), SIGNAL_WAIT_S, lambda: f"{chosen} survived SIGKILL")
    return heard, chosen


def logged_pids(server: Server, call_sid: str, since: int) -> set[int]:
    """The pids in the server's JSON request log lines of a call, after byte `since`."""
    with server.stderr.open("rb") as stream:
        stream.seek(since)
        lines = stream.read().decode("utf-8", errors="replace").splitlines()
    pids = set()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not a JSON log line
        if isinstance(record, dict) and record.get("call_sid") == call_sid:
            pids.add(record["pid"])
    return pids


@pytest.mark.usefixtures("app")  # the demo accounts
def test_a_call_goes_on_after_the_workers_that_served_it_are_killed(
    serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker,
) -> None:  # fmt: skip
    """Every worker that served a step up to the PIN is SIGKILLed; the call still goes on."""
    # Each next step is served by the other worker or a respawned one (`serve --workers 2`).
    (server,) = launch(serve_env(IVR_LOG_FORMAT="json"), workers=KILL_WORKERS)
    caller = new_caller(server.base, twiml_checker)
    steps = [(caller.dial, "welcome"), (partial(caller.press, "2"), "ask_id"),
             (partial(caller.press, WANG_KEYED + "#"), "ask_pin"),
             (partial(caller.press, WANG_PIN + "#"), "medical_menu")]  # fmt: skip
    killed = []
    for action, prompt in steps:
        since = server.stderr.stat().st_size
        heard, pid = serve_on_one_worker_then_kill(server, action)
        expect(prompt, heard)
        # The request log (written before each answer is sent) agrees on who served.
        assert logged_pids(server, caller.call_sid, since) == {pid}, server.log()
        killed.append(pid)
    assert BALANCE_WORDS in caller.press("1"), f"{caller.heard_text()}\n{server.log()}"
    assert len(set(killed)) == len(steps), killed
    assert server.proc.poll() is None and not set(killed) & server.workers()
    # /metrics sums every worker's counts, those of the four killed ones included.
    counts = scraped_requests(server.base)
    assert (counts["/voice"], counts["/voice/keys"]) == (1, 4), counts


def scraped_requests(base: str) -> Counter[str]:
    """POST webhook requests per route, as one scrape of the server's /metrics reports."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=STEP_TIMEOUT_S) as response:
        text = response.read().decode()
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ivr_requests_total" and sample.labels["method"] == "POST":
                counts[sample.labels["route"]] += int(sample.value)
    return counts
