"""`calls run --url` against a hotline that answers invalid TwiML: every corpus document is
the application error a caller would hear, reported as a JUnit <error>, never a failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from tests.servers import cli_env, run_cli, sqlite_url
from tests.sim.twiml_corpus import INVALID, Invalid

SCRIPT = """\
name: {id}
caller: "{caller}"
steps:
  - expect_not: 这句话不会被听到
"""


def caller_of(index: int) -> str:
    """The number one corpus entry's script calls from."""
    return f"+86139{index:08d}"


def corpus_app(documents: dict[str, str]):
    """A hotline whose /voice answers the document chosen by the caller's number."""

    @Request.application
    def answer(request: Request) -> Response:
        """The caller's document at /voice; an empty <Response/> for the status callback."""
        body = "<Response/>"
        if request.path == "/voice":
            body = documents.get(request.form.get("From", ""), "<Response><Hangup/></Response>")
        return Response(body, content_type="text/xml; charset=utf-8")

    return answer


@pytest.fixture
def corpus_server() -> Iterator[BaseWSGIServer]:
    """The corpus hotline on a free port, served from a thread of this process."""
    documents = {caller_of(i): entry.twiml for i, entry in enumerate(INVALID)}
    server = make_server("127.0.0.1", 0, corpus_app(documents), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def expected_of(entry: Invalid) -> str:
    """What the report must say: the simulator's refusal when it comes first, else the
    checker's problem."""
    return entry.simulator or entry.expected


@pytest.mark.slow
def test_every_corpus_document_is_an_error_of_calls_run(
    corpus_server: BaseWSGIServer, tmp_path: Path
) -> None:
    """One script per corpus entry; each ends in an <error> quoting the rule it broke."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for index, entry in enumerate(INVALID):
        text = SCRIPT.format(id=entry.id, caller=caller_of(index))
        (scripts / f"{entry.id}.yaml").write_text(text, encoding="utf-8")
    junit, unused = tmp_path / "junit.xml", tmp_path / "never.sqlite3"
    url = f"http://127.0.0.1:{corpus_server.server_port}"
    # No PIN key and a database that does not exist: a run against a URL needs neither.
    env = cli_env(tmp_path, sqlite_url(unused), IVR_PIN_KEY="")
    # This hotline has no fallback URL (its number would have none set): each refusal is the
    # caller's application error, not a request Twilio sends on to /voice/fallback.
    result = run_cli(["calls", "run", str(scripts), "--url", url, "--jobs", "8",
                      "--no-fallback", "--junit", str(junit)], env)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"0 passed, 0 failed, {len(INVALID)} error" in " ".join(result.stdout.split())
    assert not unused.exists()
    cases = {case.get("classname"): case for case in ET.parse(junit).iter("testcase")}
    assert sorted(cases) == sorted(entry.id for entry in INVALID)
    for entry in INVALID:
        case = cases[entry.id]
        assert case.find("failure") is None, entry.id
        error = case.find("error")
        assert error is not None, entry.id
        message = error.get("message", "")
        assert message.startswith("the caller hears Twilio's application error: "), message
        assert expected_of(entry) in message and message.endswith("(dial)"), (entry.id, message)
        # The transcript keeps why the answer was refused, under the request that got it.
        lines = (case.findtext("system-out") or "").splitlines()
        refused = [line.strip() for line in lines if line.strip().startswith("refused: ")]
        assert refused and expected_of(entry) in refused[0], (entry.id, lines)
