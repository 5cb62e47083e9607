"""Production and scale over real gunicorn processes: one call served by two servers in turn,
a call that outlives the workers that served it, racing wrong PINs over HTTP, and 200
simultaneous callers who each hear their own balance. Each test runs on every backend.

The servers play the fake-rendered prompt audio (with the read-backs' text header), so the
per-call audio URLs are part of what must work across processes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from threading import Barrier
from urllib.parse import urlsplit

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from servers import Server, cli_env, is_alive, process_state, start_server, wait_for
from sqlalchemy import func, select
from stdnum.cn import ric
from twilio.request_validator import RequestValidator

from ivr.config import SETTINGS
from ivr.identity import validate_id_number
from ivr.menu_load import load_menu
from ivr.simulator import Caller, HttpTransport, Reply, Transport, TurnKind
from ivr.speech import read_count, read_money
from ivr.twiml_schema import TwimlSchema
from store.demo import WANG_JIANGUO
from store.lockout import hash_pin
from store.models import Call, CallAudio, CallEvent, Person

TOKEN = "workers-test-auth-token-0123456789"
MENU = load_menu(SETTINGS["IVR_MENU"][0])  # the menu the servers serve
WANG_KEYED = WANG_JIANGUO[:-1] + "*"  # the X of his ID keyed as *
WANG_PIN, WRONG_PIN = "135790", "000000"
BALANCE_WORDS = "一千二百三十四元五角六分"  # 王建国's demo balance, 1234.56
STEP_TIMEOUT_S = 30.0  # per request; Twilio's own limit is 15 s, but CI machines are slow
CROWD_TIMEOUT_S = 180.0  # on SQLite the crowd's ~200 PIN checks (~0.14 s each) queue up
SIGNAL_WAIT_S = 10.0
KILL_WORKERS = 2
RACERS = 20
CROWD = 200
CROWD_PIN = "246802"
# All test traffic comes from 127.0.0.1: one test client stands in for Twilio's whole
# address pool, so the per-address and per-caller rate limits would throttle the test itself.
NO_RATE_LIMITS = {"IVR_RATE_LIMIT_CALLER": "off", "IVR_RATE_LIMIT_ADDRESS": "off"}


# --------------------------------------------------------------------------- helpers


def new_caller(base: str, schema: TwimlSchema, timeout: float = STEP_TIMEOUT_S,
               from_: str = "+8613800138000", transport: Transport | None = None,
               ) -> Caller:  # fmt: skip
    """A signed, schema-checking caller of `base` that ends with Twilio's status callback."""
    return Caller(
        transport or HttpTransport(timeout),
        voice_url=f"{base}/voice",
        auth_token=TOKEN,
        from_=from_,
        schema=schema,
        status_callback=f"{base}/voice/status",
    )


def to_balance(caller: Caller) -> str:
    """Dial, pick 医疗保险服务, verify as 王建国 and ask for the balance; return what is heard."""
    expect("welcome", caller.dial())
    expect("ask_id", caller.press("2"))
    expect("ask_pin", caller.press(WANG_KEYED + "#"))
    expect("medical_menu", caller.press(WANG_PIN + "#"))
    return caller.press("1")


def expect(prompt: str, heard: str) -> None:
    """Fail unless a prompt of the menu was heard (a short message, fit for 200 threads)."""
    text = MENU.text(prompt)
    assert text in heard, f"expected {prompt}, heard {heard!r}"


def attempt(action: Callable[[], object]) -> object:
    """Run an action in a pool thread; an exception is returned, so every thread finishes."""
    try:
        return action()
    except Exception as exc:  # reported with the others by the test
        return exc


def stored_person(app: Flask, id_number: str) -> tuple[int, bool]:
    """(failed_pins, locked) of a person as stored now."""
    with app.extensions["ivr"].sessions() as session:
        person = session.scalars(select(Person).where(Person.id_number == id_number)).one()
        return person.failed_pins, person.locked


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


@pytest.fixture
def serve_env(tmp_path: Path, database_url: str, audio_dir: Path) -> Callable[..., dict]:
    """The environment of a signed `serve` in play mode on the test database."""

    def env(**settings: str) -> dict[str, str]:
        """Add `settings` to the common ones."""
        return cli_env(tmp_path, database_url, IVR_AUTH_TOKEN=TOKEN, IVR_SPEECH="play",
                       IVR_AUDIO_DIR=str(audio_dir), IVR_AUDIO_TEXT="1", **settings)  # fmt: skip

    return env


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., list[Server]]]:
    """Start `serve` processes and wait until they answer; all are stopped at teardown."""
    started: list[Server] = []

    def start(env: dict[str, str], *, workers: int, count: int = 1) -> list[Server]:
        """Start `count` servers together (they boot in parallel), then wait for each."""
        servers = []
        for _ in range(count):
            servers.append(start_server(f"serve{len(started)}", tmp_path, env, workers))
            started.append(servers[-1])
        for server in servers:
            server.wait_healthy()
        return servers

    yield start
    for server in started:
        server.stop()


@dataclass(frozen=True)
class Member:
    """One caller of the crowd: a person on file with a balance of their own."""

    id_number: str
    balance_fen: int
    from_: str

    @property
    def words(self) -> str:
        """The balance as the hotline reads it."""
        return read_money(self.balance_fen)


def crowd_member(index: int) -> Member:
    """Member `index`: an ID of Urumqi, born 1980-01-01, and a balance of its own."""
    body = f"65010219800101{index + 1:03d}"
    check = ric.calc_check_digit(body + "0")  # it skips the last character, the check's place
    # Four-digit yuan (1000 to 8363), so no one's balance in words is a part of another's.
    yuan, jiao, fen = 1000 + 37 * index, 1 + index % 9, 1 + (index * 4) % 9
    return Member(body + check, yuan * 100 + jiao * 10 + fen, f"+86139{index:08d}")


@pytest.fixture
def crowd(make_app: Callable[..., Flask]) -> list[Member]:
    """CROWD persons inserted directly, sharing one PIN hash (hashing 200 times is slow)."""
    members = [crowd_member(index) for index in range(CROWD)]
    # The hotline's own check (stdnum's is_valid knows the region codes of one era only).
    assert all(validate_id_number(m.id_number, date.today()) for m in members)
    assert len({m.id_number for m in members}) == len({m.words for m in members}) == CROWD
    pin_hash = hash_pin(CROWD_PIN)
    app = make_app()
    with app.extensions["ivr"].sessions() as session:
        session.add_all(
            Person(
                id_number=m.id_number,
                card_number=f"{650200000 + index}",
                name="张三",
                pin_hash=pin_hash,
                insured_region="650102",
                scheme="employee",
                insured_status="active",
                balance_fen=m.balance_fen,
                balance_as_of=date(2026, 11, 1),
            )
            for index, m in enumerate(members)
        )
        session.commit()
    return members


# --------------------------------------------------------------------------- two servers


def test_one_call_alternates_between_two_servers_on_one_database(
    app: Flask, serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_schema: TwimlSchema,
) -> None:  # fmt: skip
    """Two servers on one database take turns at one call, which reaches its balance and ends."""
    # Each `serve --workers 1`; the read-back audio is fetched from the server that did not
    # write it, and the end (the status callback) is recorded whichever server gets it.
    servers = launch(serve_env(), workers=1, count=2)
    balancer = RoundRobin([server.base for server in servers])
    caller = new_caller(servers[0].base, twiml_schema, transport=balancer)
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
    twiml_schema: TwimlSchema,
) -> None:  # fmt: skip
    """Every worker that served a step up to the PIN is SIGKILLed; the call still goes on."""
    # Each next step is served by the other worker or a respawned one (`serve --workers 2`).
    (server,) = launch(serve_env(IVR_LOG_FORMAT="json"), workers=KILL_WORKERS)
    caller = new_caller(server.base, twiml_schema)
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


# --------------------------------------------------------------------------- racing PINs


def at_pin_prompt(base: str, schema: TwimlSchema, index: int) -> Caller:
    """A call of its own, from a number of its own, waiting at 王建国's PIN prompt."""
    caller = new_caller(base, schema, from_=f"+86138{index:08d}")
    caller.dial()
    caller.press("2")
    expect("ask_pin", caller.press(WANG_KEYED + "#"))
    return caller


def answer_kind(heard: str) -> str:
    """The PIN outcome an answer announces: wrong, just_locked or locked."""
    if MENU.text("locked_now") in heard:
        return "just_locked"
    if MENU.text("locked") in heard:  # a part of locked_now, so tested second
        return "locked"
    # Each call has made one attempt, so a wrong PIN leaves it two more.
    return "wrong" if MENU.text("auth_failed", remaining=read_count(2)) in heard else heard


def logged_pin_outcomes(app: Flask, call_sids: list[str]) -> Counter[str]:
    """The `auth …` outcomes the call_events of these calls record."""
    query = select(CallEvent.outcome).where(CallEvent.call_sid.in_(call_sids))
    with app.extensions["ivr"].sessions() as session:
        outcomes = session.scalars(query).all()
    return Counter(found for text in outcomes for found in re.findall(r"\bauth (\w+)", text))


def test_racing_wrong_pins_over_http_all_count_and_lock_once(
    app: Flask, serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_schema: TwimlSchema,
) -> None:  # fmt: skip
    """Wrong PINs racing over HTTP for one person all count, and exactly one locks him."""
    # RACERS calls wait at 王建国's PIN prompt, then post a wrong PIN at once to 4 workers.
    (server,) = launch(serve_env(**NO_RATE_LIMITS), workers=4)
    # Numbers of their own: the race is about the person's lock, not a per-number limit.
    callers = [at_pin_prompt(server.base, twiml_schema, index) for index in range(RACERS)]
    marks = [len(caller.transcript) for caller in callers]
    start = Barrier(RACERS)

    def race(caller: Caller) -> str:
        """Wait for every racer, then post the wrong PIN."""
        start.wait(timeout=SIGNAL_WAIT_S)
        return caller.press(WRONG_PIN + "#")

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda caller: attempt(partial(race, caller)), callers))
    failures = [answer for answer in answers if isinstance(answer, Exception)]
    assert not failures, f"{len(failures)} failed: {failures[:3]}\n{server.log()}"
    statuses = [turn.status for caller, mark in zip(callers, marks, strict=True)
                for turn in caller.transcript[mark:] if turn.kind is TurnKind.REQUEST]  # fmt: skip
    assert statuses and set(statuses) == {200}, Counter(statuses)
    expected = Counter(wrong=2, just_locked=1, locked=RACERS - 3)
    assert Counter(map(answer_kind, answers)) == expected
    assert logged_pin_outcomes(app, [caller.call_sid for caller in callers]) == expected
    assert stored_person(app, WANG_JIANGUO) == (RACERS, True)


# --------------------------------------------------------------------------- a crowd


def crowd_call(base: str, schema: TwimlSchema, member: Member) -> str:
    """One member's whole call to the balance, hung up after it; return the balance step."""
    caller = new_caller(base, schema, CROWD_TIMEOUT_S, member.from_)
    caller.dial()
    caller.press("2")
    expect("ask_pin", caller.press(member.id_number.replace("X", "*") + "#"))
    expect("medical_menu", caller.press(CROWD_PIN + "#"))
    heard = caller.press("1")
    caller.hangup()
    return heard


def test_a_crowd_of_simultaneous_callers_each_hears_their_own_balance(
    crowd: list[Member], make_app: Callable[..., Flask], serve_env: Callable[..., dict],
    launch: Callable[..., list[Server]], twiml_schema: TwimlSchema,
) -> None:  # fmt: skip
    """CROWD simultaneous callers, each a different person, each hear their own balance."""
    # One 4-worker server; no one may hear another's balance, and every call must end.
    (server,) = launch(serve_env(**NO_RATE_LIMITS), workers=4)
    call = partial(crowd_call, server.base, twiml_schema)
    with ThreadPoolExecutor(CROWD) as pool:
        heard = list(pool.map(lambda member: attempt(partial(call, member)), crowd))
    failures = [(m.id_number[-4:], repr(h)[:200]) for m, h in zip(crowd, heard, strict=True)
                if isinstance(h, Exception)]  # fmt: skip
    assert not failures, f"{len(failures)} of {CROWD} calls failed, e.g. {failures[:3]}\n" + (
        "\n".join(server.warnings()[-10:])
    )
    everyone = {member.words for member in crowd}
    wrong = [(m.words, h) for m, h in zip(crowd, heard, strict=True)
             if m.words not in h or any(w in h for w in everyone - {m.words})]  # fmt: skip
    assert not wrong, f"{len(wrong)} callers heard another balance, e.g. {wrong[:3]}"
    with make_app().extensions["ivr"].sessions() as session:
        ended = session.scalar(select(func.count()).where(Call.ended.is_(True)))
    assert ended == CROWD
