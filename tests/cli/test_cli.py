"""The command line: `serve` as real gunicorn processes, `init-db`, `--help`, errors.

Server processes are shared per module and started in parallel; every one of them (and its
workers, through its process group) is killed in teardown, whatever the tests did.
"""

from __future__ import annotations

import importlib.util
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import create_engine, func, inspect, select

from ivr import create_app
from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, EndState, HttpTransport, WebhookError
from store.demo import WANG_JIANGUO
from store.models import Base, Person
from tests.servers import (
    ROOT,
    STOP_WAIT_S,
    Server,
    child_pids,
    cli_env,
    is_alive,
    run_cli,
    sqlite_url,
    start_server,
    wait_for,
)

TOKEN = "cli-test-auth-token-0123456789ab"
WANG_KEYED = WANG_JIANGUO[:-1] + "*"
WANG_PIN = "135790"
BALANCE_WORDS = "一千二百三十四元五角六分"
MENU = load_menu(SETTINGS["IVR_MENU"][0])  # the menu the servers serve
WELCOME = MENU.text("welcome")
COMMANDS = ("serve", "db", "init-db", "import", "unlock", "demo-data", "prompts", "calls", "call",
            "menu", "pin-key")  # fmt: skip


# --------------------------------------------------------------------------- helpers


def http(
    url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    """GET (or POST `form` urlencoded, as curl -d does): status, Content-Type, body."""
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data, headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def parse_twiml(body: bytes) -> etree._Element:
    """The <Response> root of a TwiML document."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(body, parser)


def call_to_balance(caller: Caller) -> str:
    """Dial, pick 医疗保险服务, verify as 王建国 (X keyed as *) and ask for the balance."""
    assert WELCOME in caller.dial()
    assert "身份证号码" in caller.press("2")
    assert "查询密码" in caller.press(WANG_KEYED + "#")
    caller.press(WANG_PIN + "#")
    return caller.press("1")


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class DemoDb:
    """A SQLite file prepared by `demo-data --load-if-empty`, and its directory."""

    base: Path
    url: str
    demo_file: Path


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> DemoDb:
    """A tmp SQLite database loaded with the demo accounts by the real command line."""
    base = tmp_path_factory.mktemp("cli")
    url = sqlite_url(base / "ivr.sqlite3")
    demo_file = base / "demo.json"
    result = run_cli(["demo-data", "--load-if-empty", "-o", str(demo_file)], cli_env(base, url))
    assert result.returncode == 0, f"demo-data failed:\n{result.stdout}\n{result.stderr}"
    return DemoDb(base, url, demo_file)


@pytest.fixture(scope="module")
def servers(demo_db: DemoDb) -> Iterator[dict[str, Server]]:
    """Three `serve` processes on the demo database, started together:
    `plain` (no token, 2 workers), `signed` (IVR_AUTH_TOKEN set), `doomed` (for SIGTERM)."""
    plain_env = cli_env(demo_db.base, demo_db.url)
    # `signed` stands for a staging hotline that QA batches run against: every call comes
    # from one machine and one number, so it runs without rate limits, as QA's would.
    signed_env = cli_env(demo_db.base, demo_db.url, IVR_AUTH_TOKEN=TOKEN,
                         IVR_RATE_LIMIT_CALLER="off", IVR_RATE_LIMIT_ADDRESS="off")  # fmt: skip
    started: dict[str, Server] = {}
    try:
        started["plain"] = start_server("plain", demo_db.base, plain_env, workers=2)
        started["signed"] = start_server("signed", demo_db.base, signed_env, workers=1)
        started["doomed"] = start_server("doomed", demo_db.base, plain_env, workers=2)
        for server in started.values():
            server.wait_healthy()
        yield started
    finally:
        for server in started.values():
            server.kill()


@pytest.fixture(scope="module")
def run_ivr() -> ModuleType:
    """The run_ivr.py script, imported as a module (its `cli` group)."""
    spec = importlib.util.spec_from_file_location("run_ivr_under_test", ROOT / "run_ivr.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- serve


def test_demo_data_load_if_empty_loads_the_demo_accounts(demo_db: DemoDb) -> None:
    """`demo-data --load-if-empty` wrote the file and filled the empty database."""
    assert WANG_JIANGUO in demo_db.demo_file.read_text("utf-8")
    engine = create_engine(demo_db.url)
    try:
        with engine.connect() as connection:
            persons = connection.execute(select(func.count()).select_from(Person)).scalar_one()
    finally:
        engine.dispose()
    assert persons == 7


def test_serve_prints_the_voice_url_and_a_working_curl_example(servers: dict[str, Server]) -> None:
    """The banner names the /voice URL and a curl command that fits on one copyable line."""
    server = servers["plain"]
    output = server.output()
    assert output.count("Try it:") == 1, f"banner missing or printed twice:\n{output}"
    assert re.search(rf"http://(localhost|127\.0\.0\.1):{server.port}/voice\b", output), output
    curl = [line for line in output.splitlines() if "curl " in line]
    assert len(curl) == 1, output
    command = curl[0][curl[0].index("curl ") :].rstrip()
    # A whole command: URL, then -d k=v pairs up to the end of the line (not wrapped mid-way).
    pattern = rf"curl( -\w+)* -X POST http://\S+:{server.port}/voice( -d \w+=\S+)+"
    assert re.fullmatch(pattern, command), f"curl example is cut: {command!r}\n{output}"
    assert "CallSid=" in command
    assert "Prompts: <Say> text" in output, output  # nothing rendered in its audio folder


def test_post_voice_returns_the_welcome_twiml(servers: dict[str, Server]) -> None:
    """A curl-style form POST to /voice gets the welcome <Say> and the main-menu <Gather>."""
    form = {"CallSid": "CAcli0000000000000000000000000001", "From": "+8613800138000"}
    status, content_type, body = http(f"{servers['plain'].base}/voice", form)
    assert status == 200, body
    assert content_type.split(";")[0] == "text/xml"
    root = parse_twiml(body)
    assert root.tag == "Response"
    says = ["".join(say.itertext()) for say in root.iter("Say")]
    hint = MENU.text("speech_hint")  # the menus listen for speech too
    assert says == [WELCOME, hint, MENU.text("main_menu"), MENU.text("language_offer")], says
    gather = root.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf speech", body.decode()


def test_a_whole_call_over_http_reaches_the_balance(servers: dict[str, Server]) -> None:
    """Every request of a call may land on either worker: the call state lives in the DB."""
    caller = Caller(HttpTransport(timeout=10), voice_url=f"{servers['plain'].base}/voice")
    heard = call_to_balance(caller)
    assert BALANCE_WORDS in heard, caller.heard_text()
    assert not caller.ended
    caller.hangup()
    assert caller.end_state is EndState.CALLER_HANGUP


def test_two_instances_run_side_by_side_without_a_control_socket(
    servers: dict[str, Server], demo_db: DemoDb
) -> None:
    """Parallel `serve` processes both answer, and none opened gunicorn's control socket."""
    assert servers["plain"].port != servers["signed"].port
    for name in ("plain", "signed"):
        assert servers[name].proc.poll() is None, servers[name].log()
        assert servers[name].healthy(), f"{name} stopped answering /healthz\n{servers[name].log()}"
    assert not (demo_db.base / "run" / "gunicorn.ctl").exists()
    assert not (demo_db.base / "home" / ".gunicorn").exists()


@pytest.mark.slow
def test_sigterm_stops_serve_and_all_its_workers(servers: dict[str, Server]) -> None:
    """serve runs gunicorn workers as its children; SIGTERM to serve ends every one."""
    server = servers["doomed"]
    pid = server.proc.pid
    wait_for(
        lambda: len(child_pids(pid)) == 2,
        STOP_WAIT_S,
        lambda: f"expected 2 gunicorn workers under {pid}, got {child_pids(pid)}\n{server.log()}",
    )
    workers = child_pids(pid)
    for worker in workers:
        cmdline = Path(f"/proc/{worker}/cmdline").read_bytes()
        assert b"run_ivr.py" in cmdline and b"serve" in cmdline, cmdline
    server.proc.send_signal(signal.SIGTERM)
    try:
        returncode = server.proc.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not exit within {STOP_WAIT_S} s of SIGTERM\n{server.log()}")
    assert returncode == 0, server.log()
    wait_for(
        lambda: not any(is_alive(worker) for worker in workers),
        STOP_WAIT_S,
        lambda: (
            f"workers still alive after serve exited: "
            f"{[w for w in workers if is_alive(w)]}\n{server.log()}"
        ),
    )
    assert not server.healthy()


def test_signed_server_refuses_an_unsigned_post(servers: dict[str, Server]) -> None:
    """With IVR_AUTH_TOKEN set, an unsigned or wrongly signed webhook gets 403, no TwiML."""
    url = f"{servers['signed'].base}/voice"
    form = {"CallSid": "CAcli0000000000000000000000000002", "From": "+8613800138000"}
    status, _, body = http(url, form)
    assert status == 403
    assert b"<Response" not in body
    status, _, body = http(url, form, {"X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl"})
    assert status == 403
    assert b"<Response" not in body
    forger = Caller(HttpTransport(timeout=10), voice_url=url, auth_token="not-the-token")
    with pytest.raises(WebhookError) as refused:
        forger.dial()
    assert refused.value.status == 403


def test_signed_server_serves_a_signed_call(servers: dict[str, Server]) -> None:
    """A caller that signs as Twilio does is served: the server rebuilds the URL from Host."""
    caller = Caller(
        HttpTransport(timeout=10), voice_url=f"{servers['signed'].base}/voice", auth_token=TOKEN
    )
    heard = call_to_balance(caller)
    assert BALANCE_WORDS in heard, caller.heard_text()


@pytest.mark.slow
def test_calls_run_against_a_deployed_server(
    servers: dict[str, Server], demo_db: DemoDb, tmp_path: Path
) -> None:
    """QA staff run the shipped scripts in parallel against a running server, signed."""
    junit = tmp_path / "junit.xml"
    args = ["calls", "run", "tests/calls", "--url", servers["signed"].base, "--jobs", "8",
            "--auth-token", TOKEN, "--junit", str(junit)]  # fmt: skip
    result = run_cli(args, cli_env(demo_db.base, demo_db.url))
    assert result.returncode == 0, result.stdout + result.stderr
    scripts = len(list((ROOT / "tests" / "calls").glob("*.yaml")))
    assert f"{scripts} passed, 0 failed, 0 error" in " ".join(result.stdout.split())
    suite = etree.parse(str(junit)).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(scripts)
    unsigned = run_cli(args[:-4] + ["--junit", str(junit)], cli_env(demo_db.base, demo_db.url))
    assert unsigned.returncode == 1 and "403" in unsigned.stdout


# --------------------------------------------------------------------------- help, errors, init-db


def test_group_help_lists_every_command(
    run_ivr: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--help` of the group describes the tool and lists every command."""
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)  # FlaskGroup sets it; restored
    env = {"IVR_DATABASE_URL": sqlite_url(tmp_path / "help.sqlite3"), "IVR_AUTH_TOKEN": ""}
    result = CliRunner().invoke(run_ivr.cli, ["--help"], env=env, prog_name="run_ivr.py")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "12333" in result.output
    listed = result.output.split("Commands:", 1)[1]
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert names == set(COMMANDS), result.output


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("serve", ["gunicorn", "--host", "--port", "--workers"]),
        ("init-db", ["tables", "db upgrade"]),
        ("db", ["upgrade", "downgrade", "current"]),
        ("import", ["FILE", "all records, or none"]),
        ("unlock", ["NUMBER", "ID or card", "lock-out", "not on file"]),
        ("demo-data", ["demo", "--output", "--load-if-empty"]),
        ("prompts", ["audio", "render", "voices", "play", "say"]),
        ("calls", ["scripts", "run"]),
        ("call", ["--url", "--record", "--speak"]),
    ],
)
def test_each_command_has_help(
    run_ivr: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    mentions: list[str],
) -> None:
    """`COMMAND --help` exits 0 with a usage line and a description of the command."""
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    env = {"IVR_DATABASE_URL": sqlite_url(tmp_path / "help.sqlite3"), "IVR_AUTH_TOKEN": ""}
    result = CliRunner().invoke(run_ivr.cli, [command, "--help"], env=env, prog_name="run_ivr.py")
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Usage: run_ivr.py {command}"), result.output
    description = " ".join(lines[1 : lines.index("Options:")]).strip()
    assert len(description) > 20, result.output
    flat = " ".join(result.output.split())
    for word in mentions:
        assert word in flat, f"{word!r} not in {command} --help:\n{result.output}"
    assert not (tmp_path / "help.sqlite3").exists(), "--help must not touch the database"


def test_bad_agent_hours_is_a_one_line_error(tmp_path: Path) -> None:
    """A bad IVR_AGENT_HOURS stops the command with one `Error: IVR_AGENT_HOURS…` line."""
    env = cli_env(tmp_path, sqlite_url(tmp_path / "ivr.sqlite3"), IVR_AGENT_HOURS="9-5")
    result = run_cli(["init-db"], env)
    assert result.returncode != 0
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both
    lines = both.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: IVR_AGENT_HOURS"), both


def test_init_db_creates_the_tables_in_an_empty_sqlite_file(tmp_path: Path) -> None:
    """`init-db` on an empty SQLite file creates every table; running it again is harmless."""
    path = tmp_path / "empty.sqlite3"
    path.touch()
    url = sqlite_url(path)
    app = create_app({"IVR_DATABASE_URL": url, "IVR_AUTH_TOKEN": "", "TESTING": True})
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
        for _ in range(2):
            result = app.test_cli_runner().invoke(args=["init-db"])
            assert result.exit_code == 0, (result.output, result.exception)
            assert "Database ready" in result.output
            tables = set(inspect(engine).get_table_names())
            assert tables == {*Base.metadata.tables, "alembic_version"}
    finally:
        engine.dispose()
        app.extensions["ivr"].engine.dispose()
