"""`calls run`: the QA runner's command line, in-process (the --url side is in test_cli)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.import_apply import import_data
from store.models import Call, CallAudio

CALLS = Path(__file__).parents[1] / "calls"
FAILING = """\
name: 会失败的脚本
steps:
  - press: "2"
  - expect: 这句话不会出现
"""


def invoke(app, *args: str):
    """Run `calls run ARGS` on the app's CLI."""
    return app.test_cli_runner().invoke(args=["calls", "run", *args])


def calls_made(app) -> int:
    """How many calls the hotline has seen."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Call)) or 0


def test_the_shipped_suite_passes_with_every_report(app, tmp_path) -> None:
    reports = tmp_path / "reports"
    junit, html, report = reports / "junit.xml", reports / "report.html", reports / "r.json"
    result = invoke(app, str(CALLS), "--jobs", "4", "--junit", str(junit), "--html", str(html),
                    "--json", str(report))  # fmt: skip
    assert result.exit_code == 0, result.output
    scripts = len(list(CALLS.glob("*.yaml")))
    assert f"{scripts} passed, 0 failed, 0 error" in result.output
    assert "Menu coverage: 100% of paths; never reached: none" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(scripts) and suite.get("failures") == "0"
    assert json.loads(report.read_text())["coverage"]["percent"] == 100
    assert "参保状态查询" in html.read_text(encoding="utf-8")


def test_a_failing_script_prints_its_transcript_and_exits_1(app, tmp_path) -> None:
    (tmp_path / "fails.yaml").write_text(FAILING, encoding="utf-8")
    result = invoke(app, str(tmp_path))
    assert result.exit_code == 1
    assert "这句话不会出现" in result.output and "请输入您的十八位身份证号码" in result.output
    assert "0 passed, 1 failed" in result.output


def test_a_malformed_script_stops_the_run_before_any_call(app, tmp_path) -> None:
    (tmp_path / "good.yaml").write_text(FAILING, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("name: x\nsteps:\n  - pres: '1'\n", encoding="utf-8")
    result = invoke(app, str(tmp_path))
    assert result.exit_code == 1
    assert "bad.yaml:3:" in result.output and "pres" in result.output
    assert calls_made(app) == 0


@pytest.mark.parametrize(
    ("tags", "expected"),
    [(["--tag", "english"], 4), (["--tag", "family", "--tag", "social"], 3)],
)
def test_tags_choose_the_scripts(app, tags, expected) -> None:
    result = invoke(app, str(CALLS), *tags)
    assert result.exit_code == 0, result.output
    assert f"{expected} passed, 0 failed" in result.output


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://example.org"])
def test_a_url_without_http_is_refused_before_any_call(app, url) -> None:
    result = invoke(app, str(CALLS), "--url", url)
    assert result.exit_code == 2 and "expected http://… or https://…" in result.output


def test_in_process_calls_without_a_pin_key_are_refused_before_any_call(make_app) -> None:
    keyless = make_app(IVR_PIN_KEY="", IVR_PIN_KEY_FILE="")
    result = invoke(keyless, str(CALLS))
    assert (
        result.exit_code == 1 and "no PIN key" in result.output and "pin-key new" in result.output
    )
    assert calls_made(keyless) == 0


def test_a_bad_var_name_is_refused(app) -> None:
    result = invoke(app, str(CALLS), "--var", "1X=3")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_variables_come_from_var_and_env_files(app, tmp_path) -> None:
    script = tmp_path / "pin.yaml"
    script.write_text(
        'steps:\n  - press: "2"\n  - press: "${ID}#"\n  - press: "${PIN}#"\n'
        "  - expect: 个人账户余额查询请按一\n",
        encoding="utf-8",
    )
    env = tmp_path / "qa.env"
    env.write_text("ID=310101198507072013\nPIN=000000\n", encoding="utf-8")
    result = invoke(app, str(script), "--env-file", str(env), "--var", "PIN=123456")
    assert result.exit_code == 0, result.output
    assert "123456" not in result.output and "000000" not in result.output


def test_fail_fast_starts_nothing_after_a_failure(app, tmp_path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(FAILING, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = invoke(app, str(tmp_path), "--jobs", "1", "--fail-fast", "--junit", str(junit))
    assert result.exit_code == 1
    assert "0 passed, 1 failed, 0 error, 2 skipped" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("skipped")) == ("3", "2")
    assert len(suite.findall("testcase/skipped")) == 2


def test_the_run_ends_each_call_so_its_read_back_urls_die(make_app, audio_dir, demo_prepared,
                                                          tmp_path) -> None:  # fmt: skip
    app = make_app(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    result = invoke(app, str(CALLS / "balance_card.yaml"), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    with app.extensions["ivr"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallAudio)) == 0
    assert "/audio/calls/" not in (tmp_path / "r.json").read_text(encoding="utf-8")


def test_help_tells_processes_from_threads(app) -> None:
    result = app.test_cli_runner().invoke(args=["calls", "run", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "In-process: worker processes" in text and "With --url: threads [4]" in text


def test_fail_fast_in_worker_processes(app, tmp_path) -> None:
    for name in "abcde":
        (tmp_path / f"{name}.yaml").write_text(FAILING, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = invoke(app, str(tmp_path), "--jobs", "2", "--fail-fast", "--junit", str(junit))
    assert result.exit_code == 1 and "threads" not in result.output
    # Both workers' first scripts fail; no script starts after that.
    assert "0 passed, 2 failed, 0 error, 3 skipped" in result.output
    assert "这句话不会出现" in result.output and "请输入您的十八位身份证号码" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("skipped")) == ("5", "3")


def test_settings_no_process_can_take_run_on_threads(make_app, clock, demo_prepared) -> None:
    app = make_app(IVR_CLOCK=lambda: clock())  # a local function cannot be pickled
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    result = invoke(app, str(CALLS), "--tag", "family", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "Running on threads, not processes: a setting cannot be sent" in result.output
    assert "2 passed, 0 failed" in result.output


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["this-process", "worker-processes"])
@pytest.mark.parametrize("flags", [[], ["--no-fallback"]], ids=["fallback", "no-fallback"])
def test_calls_run_with_and_without_the_fallback_url(app, jobs: str, flags: list[str]) -> None:
    """Both ways pass against a hotline whose webhooks never fail (the option is plumbed
    through threads and worker processes; what it changes is in tests/qa/test_dialers.py)."""
    result = invoke(app, str(CALLS), "--tag", "english", "--jobs", jobs, *flags)
    assert result.exit_code == 0, result.output
    assert "4 passed, 0 failed" in result.output
