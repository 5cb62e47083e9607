"""Reports of call-script runs: JUnit XML for CI, JSON for tools, one self-contained HTML page.

The page is written by ivr.qa.html, the plain-text transcript by ivr.qa.text; both are
exported here too, so callers need only this module.

Transcripts arrive with keyed input already masked; nothing here looks at a script's own keys
(Step.describe() masks them too), so no report can hold a PIN the transcript does not.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ivr.qa.coverage import Coverage
from ivr.qa.html import write_html
from ivr.qa.model import Outcome, ScriptResult
from ivr.qa.text import count, request_line, transcript_text, verdict

__all__ = ["request_line", "transcript_text", "write_html", "write_json", "write_junit"]

# Characters XML 1.0 cannot carry at all; a deployed hotline may still say them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text that XML can carry: characters it cannot are shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def write_junit(
    results: Sequence[ScriptResult], path: Path, *, suite: str = "call scripts"
) -> None:
    """JUnit XML for Jenkins and GitLab: a testcase per script, its transcript in system-out."""
    totals = {
        "name": _xml(suite),
        "tests": str(len(results)),
        "failures": str(count(results, Outcome.FAILED)),
        "errors": str(count(results, Outcome.ERROR)),
        "time": f"{sum(r.seconds for r in results):.3f}",
    }
    root = ET.Element("testsuites", totals)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    skipped = str(count(results, Outcome.SKIPPED))
    testsuite = ET.SubElement(root, "testsuite", {**totals, "skipped": skipped, "timestamp": stamp})
    for result in results:
        script = result.script
        case = ET.SubElement(testsuite, "testcase", {
            "classname": _xml(script.path.stem or script.path.parent.name or suite),
            "name": _xml(script.name),
            "time": f"{result.seconds:.3f}",
            "file": _xml(str(script.path)),
        })  # fmt: skip
        if result.outcome == Outcome.SKIPPED:
            ET.SubElement(case, "skipped", {"message": _xml(result.failure)})
        elif result.outcome != Outcome.PASSED:
            tag = "failure" if result.outcome == Outcome.FAILED else "error"
            message = " ".join((result.failure or result.outcome.value).split())
            problem = ET.SubElement(case, tag, {"message": _xml(message), "type": tag})
            problem.text = _xml("\n".join(verdict(result)))
        ET.SubElement(case, "system-out").text = _xml(transcript_text(result))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _script_json(result: ScriptResult) -> dict[str, Any]:
    """One script's result as JSON-ready data."""
    script = result.script
    return {
        "name": script.name,
        "file": str(script.path),
        "tags": list(script.tags),
        "outcome": result.outcome.value,
        "failure": result.failure,
        "end_state": result.end_state.value if result.end_state else None,
        "seconds": round(result.seconds, 3),
        "slowest_ms": None if result.slowest_ms is None else round(result.slowest_ms, 1),
        "steps": [
            {
                "line": s.step.line,
                "step": s.step.describe(),
                "ok": s.ok,
                "elapsed_ms": None if s.elapsed_ms is None else round(s.elapsed_ms, 1),
                "heard": s.heard,
                "message": s.message,
            }
            for s in result.steps
        ],  # fmt: skip
        "transcript": transcript_text(result).splitlines(),
    }


def _coverage_json(coverage: Coverage) -> dict[str, Any]:
    """Menu coverage as JSON-ready data."""
    return {
        "percent": round(coverage.percent, 1),
        "nodes": dict(coverage.nodes),
        "unreached": coverage.unreached,
        "missed_paths": [{"node": i.node, "path": i.path} for i in coverage.missed_paths()],
        "paths": [{"node": i.node, "path": i.path, "hits": i.hits} for i in coverage.paths],
    }


def write_json(results: Sequence[ScriptResult], coverage: Coverage | None, path: Path) -> None:
    """One JSON object: when, the totals, each script with its steps, and the coverage."""
    data = {
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "totals": {
            "scripts": len(results),
            **{outcome.value: count(results, outcome) for outcome in Outcome},
            "seconds": round(sum(r.seconds for r in results), 3),
        },
        "scripts": [_script_json(result) for result in results],
        "coverage": _coverage_json(coverage) if coverage is not None else None,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
