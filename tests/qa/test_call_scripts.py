"""The shipped call scripts (tests/calls/): each one a test, and together every menu path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.qa.coverage import coverage
from ivr.qa.load import find_scripts, load_script
from ivr.qa.model import Outcome, ScriptResult
from ivr.qa.report import transcript_text
from ivr.qa.run import run_script

CALLS = Path(__file__).parents[1] / "calls"
SCRIPTS = find_scripts([CALLS])


def run(path: Path, make_caller) -> ScriptResult:
    """Run one shipped script against the demo app."""
    script = load_script(path)
    return run_script(script, make_caller(from_=script.caller))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_call_script(path: Path, make_caller) -> None:
    result = run(path, make_caller)
    assert result.outcome == Outcome.PASSED, transcript_text(result)


def test_the_scripts_cover_every_path_of_the_default_menu(app, make_caller) -> None:
    results = [run(path, make_caller) for path in SCRIPTS]
    measured = coverage(app.extensions["ivr"].menu, [r.transcript for r in results])
    assert measured.unreached == []
    assert measured.missed_paths() == [], measured.missed_paths()
    assert measured.percent == 100
