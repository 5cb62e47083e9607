"""Faults under load over real gunicorn processes: no call is lost (issue 18).

CALLERS threads each make full balance calls back to back (welcome, 2, ID, PIN, balance,
hang up) while the server is hurt: a worker SIGKILLed every KILL_EVERY_S, or a rolling restart
(SIGHUP to the master). Requests cut by a dying worker fail as they would at Twilio, and the
callers, like a number whose "primary handler fails" URL is /voice/fallback, go on there.
Every call must still hear its balance. Each test runs on every backend.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import make_url

from ivr.sim.caller import TurnKind
from ivr.sim.twiml_check import TwimlChecker
from tests.servers import Server, wait_for
from tests.web.test_workers import BALANCE_WORDS, scraped_requests, to_balance
from tests.worker_helpers import SIGNAL_WAIT_S, new_caller

pytestmark = pytest.mark.slow  # real gunicorn servers under load

WORKERS = 3
CALLERS = 25
KILLS, KILL_EVERY_S = 8, 2.0  # about 16 s of killing
RESTARTS, RESTART_EVERY_S = 3, 5.0  # about 15 s of rolling restarts
FALLBACK_PATH = "/voice/fallback"


@dataclass
class Tally:
    """What the callers went through (each thread adds under the lock)."""

    calls: int = 0
    fallbacks: int = 0  # requests to the fallback URL
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fallbacks: int, problem: str | None) -> None:
        """One call's outcome."""
        with self.lock:
            self.calls += 1
            self.fallbacks += fallbacks
            if problem is not None:
                self.lost.append(problem)


def balance_call(base: str, checker: TwimlChecker, from_: str) -> tuple[int, str | None]:
    """One whole call to the balance and its hang-up: (fallback requests, problem or None)."""
    caller = new_caller(base, checker, from_=from_)
    try:
        heard = to_balance(caller)
        caller.hangup()
    except Exception as exc:  # the call is lost: say how, and go on with the next
        problem: str | None = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    else:
        problem = None if BALANCE_WORDS in heard else f"no balance in {heard[-80:]!r}"
    fallbacks = sum(1 for turn in caller.transcript if turn.kind is TurnKind.REQUEST
                    and (turn.url or "").endswith(FALLBACK_PATH))  # fmt: skip
    return fallbacks, problem


def under_load(server: Server, checker: TwimlChecker, hurt: Callable[[], int]) -> tuple[Tally, int]:
    """Run CALLERS callers until `hurt` returns (how many times it hurt the server)."""
    tally, stop = Tally(), threading.Event()

    def caller_loop(index: int) -> None:
        """Calls back to back, each from a number of its own (the per-number rate limit)."""
        count = 0
        while not stop.is_set():
            tally.add(*balance_call(server.base, checker, f"+86137{index:03d}{count:05d}"))
            count += 1

    threads = [threading.Thread(target=caller_loop, args=(n,), daemon=True)
               for n in range(CALLERS)]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        hurts = hurt()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    return tally, hurts


def fallback_outcomes(server: Server) -> Counter[str]:
    """How the server's fallback requests were answered, from its JSON request log:
    `replayed` (the step had committed, or its audio was cut) or `taken` (it had not)."""
    outcomes: Counter[str] = Counter()
    for line in server.stderr.read_text("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not a JSON line
        if isinstance(record, dict) and record.get("path") == FALLBACK_PATH:
            said = str(record.get("outcome", ""))
            outcomes["replayed" if said.startswith("replayed") else "taken"] += 1
    return outcomes


def report(name: str, tally: Tally, hurts: int, server: Server, database_url: str) -> None:
    """Print the numbers (run with -s to see them) and check that nothing was lost."""
    served = scraped_requests(server.base)[FALLBACK_PATH]
    how = fallback_outcomes(server)
    backend = make_url(database_url).get_backend_name()
    print(f"\n{name} on {backend}: {tally.calls} calls, {hurts} faults,"
          f" {tally.fallbacks} fallback requests ({served} served:"
          f" {how['replayed']} replayed, {how['taken']} taken),"
          f" {len(tally.lost)} lost")  # fmt: skip
    assert not tally.lost, f"{len(tally.lost)} of {tally.calls} lost: {tally.lost[:5]}"
    assert tally.calls >= CALLERS, tally.calls  # every caller finished a call at least
    assert served == tally.fallbacks  # each was answered, by the hotline's fallback route


@pytest.mark.usefixtures("app")  # the demo accounts
def test_no_call_is_lost_while_workers_are_killed(
    serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker, database_url: str,
) -> None:  # fmt: skip
    """A worker SIGKILLed every KILL_EVERY_S under CALLERS callers: every call hears its
    balance (cut requests go to the fallback URL)."""
    (server,) = launch(serve_env(), workers=WORKERS)
    pick = random.Random(18)

    def kill_workers() -> int:
        """SIGKILL a live worker every KILL_EVERY_S; the arbiter starts a new one."""
        killed = 0
        for _ in range(KILLS):
            time.sleep(KILL_EVERY_S)
            live = sorted(server.workers())
            if live:
                os.kill(pick.choice(live), signal.SIGKILL)
                killed += 1
        return killed

    tally, killed = under_load(server, twiml_checker, kill_workers)
    assert killed == KILLS and server.proc.poll() is None
    report("SIGKILL", tally, killed, server, database_url)


@pytest.mark.usefixtures("app")  # the demo accounts
def test_no_call_is_lost_in_a_rolling_restart(
    serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker, database_url: str,
) -> None:  # fmt: skip
    """SIGHUP to the master RESTARTS times under CALLERS callers: every worker is replaced,
    gracefully, and every call hears its balance."""
    (server,) = launch(serve_env(), workers=WORKERS)
    first = server.workers()

    def restart() -> int:
        """SIGHUP the master every RESTART_EVERY_S."""
        for _ in range(RESTARTS):
            time.sleep(RESTART_EVERY_S)
            server.proc.send_signal(signal.SIGHUP)
        return RESTARTS

    tally, restarts = under_load(server, twiml_checker, restart)
    wait_for(lambda: len(server.workers()) == WORKERS, SIGNAL_WAIT_S,
             lambda: f"workers after the restarts: {server.workers()}\n{server.log()}")  # fmt: skip
    assert not first & server.workers() and server.proc.poll() is None
    report("SIGHUP", tally, restarts, server, database_url)
