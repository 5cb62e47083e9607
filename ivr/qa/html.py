"""The HTML report of call-script runs: one self-contained page, each call shown as a chat.

Like every report it shows only transcripts (keyed input already masked) and Step.describe().
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ivr.qa.coverage import Coverage
from ivr.qa.model import Outcome, ScriptResult
from ivr.qa.text import count, refused_lines, request_line, verdict
from ivr.sim.turns import Turn, TurnKind

_CSS = """
body{font:15px/1.5 system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
 max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.cards div{border:1px solid #ddd;
 border-radius:.5rem;padding:.4rem 1rem}.cards b{display:block;font-size:1.4rem}
.passed{color:#17702c}.failed{color:#b00020}.error{color:#a04d00}
.failure{background:#fdecea;border-left:4px solid #b00020;padding:.5rem 1rem;white-space:pre-wrap}
tr.bad td{background:#fdecea}summary{cursor:pointer;font-size:1.1rem;margin:.6rem 0}
.chat{display:flex;flex-direction:column;gap:.3rem;background:#f4f5f7;padding:1rem;
 border-radius:.5rem}.chat p{margin:0;max-width:75%;padding:.35rem .8rem;border-radius:.9rem;
 white-space:pre-wrap}.hotline{align-self:flex-start;background:#fff;border:1px solid #ddd}
.caller{align-self:flex-end;background:#d6efff}.silence{font-style:italic;color:#555}
.said small{color:#555;margin-left:.4rem}
.chat .req{align-self:center;font:12px monospace;color:#777;padding:0}
.bar{background:#4a90d9;height:.6rem;border-radius:.3rem}
.meter{background:#eee;border-radius:.3rem;width:100%;max-width:20rem}
kbd{border:1px solid #999;border-radius:.25rem;padding:0 .3rem;font-family:monospace}
"""


def _ms(value: float | None) -> str:
    """Milliseconds for a table cell."""
    return "–" if value is None else f"{value:.1f}"


def _bar(value: float | None, scale: float) -> str:
    """An inline bar whose width shows `value` against `scale` (none for no value)."""
    if value is None:
        return ""
    width = 0.0 if scale <= 0 else min(100.0, 100.0 * value / scale)
    return f'<div class="meter"><div class="bar" style="width:{width:.1f}%"></div></div>'


def _rows(cells: Iterable[Iterable[str]], bad: Iterable[bool] = ()) -> str:
    """Table rows from already-escaped cells; the rows flagged bad are highlighted."""
    flags = list(bad)
    return "".join(
        ('<tr class="bad">' if i < len(flags) and flags[i] else "<tr>")
        + "".join(f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for i, row in enumerate(cells)
    )


def _summary(results: Sequence[ScriptResult], coverage: Coverage | None) -> str:
    """The count cards and the one-line-per-script table."""
    passed = count(results, Outcome.PASSED)
    rate = f"{100 * passed / len(results):.0f}%" if results else "–"
    cards = [
        ("scripts", len(results)), ("passed", passed),
        ("failed", count(results, Outcome.FAILED)), ("error", count(results, Outcome.ERROR)),
        ("skipped", count(results, Outcome.SKIPPED)),
        ("pass rate", rate), ("call time", f"{sum(r.seconds for r in results):.1f} s"),
    ]  # fmt: skip
    if coverage is not None:
        cards.append(("menu coverage", f"{coverage.percent:.1f}%"))
    boxes = "".join(f"<div>{escape(label)}<b>{escape(str(v))}</b></div>" for label, v in cards)
    table = _rows((
        [f'<a href="#script-{i}">{escape(r.script.name)}</a>',
         f'<span class="{r.outcome.value}">{r.outcome.value}</span>',
         f"{sum(1 for s in r.steps if s.ok)}/{len(r.steps)}", _ms(r.slowest_ms),
         escape(r.end_state.value if r.end_state else "–")]
        for i, r in enumerate(results)
    ), (r.outcome != Outcome.PASSED for r in results))  # fmt: skip
    head = "<tr><th>script</th><th>result</th><th>steps ok</th><th>slowest ms</th><th>end</th></tr>"
    return f'<h2>Summary</h2><div class="cards">{boxes}</div><table>{head}{table}</table>'


def _bubble(turn: Turn) -> str:
    """One transcript turn as a chat bubble: the hotline left, the caller right."""
    match turn.kind:
        case TurnKind.HEARD:
            return f'<p class="hotline">{escape(turn.text)}</p>'
        case TurnKind.PRESSED:
            return f'<p class="caller">press <kbd>{escape(turn.text)}</kbd></p>'
        case TurnKind.SAID:
            confidence = "" if turn.confidence is None else f"<small>{turn.confidence:.2f}</small>"
            return f'<p class="caller said">say <q>{escape(turn.text)}</q>{confidence}</p>'
        case TurnKind.SILENCE:
            return '<p class="caller silence">(silence)</p>'
    refused = "".join(f"<br>{escape(line)}" for line in refused_lines(turn))
    return f'<p class="req">{escape(request_line(turn))}{refused}</p>'


def _section(index: int, result: ScriptResult, scale: float) -> str:
    """One script: its failure, its steps with their latency, and the call as a chat."""
    script, ok = result.script, result.outcome == Outcome.PASSED
    steps = _rows(
        ([str(s.step.line), escape(s.step.describe()), "✓" if s.ok else "✗",
          _ms(s.elapsed_ms), _bar(s.elapsed_ms, scale), escape(s.message)]
         for s in result.steps),
        (not s.ok for s in result.steps),
    )  # fmt: skip
    failure = "" if ok else f'<div class="failure">{escape(chr(10).join(verdict(result)))}</div>'
    tags = ", ".join(script.tags) or "–"
    chat = [*map(_bubble, result.transcript)]
    if result.end_state is not None:
        chat.append(f'<p class="req">call ended: {escape(result.end_state.value)}</p>')
    return (
        f'<section id="script-{index}"><details{"" if ok else " open"}><summary>'
        f'<span class="{result.outcome.value}">{result.outcome.value}</span> '
        f"{escape(script.name)}</summary><p>{escape(str(script.path))} · tags: {escape(tags)}"
        f" · {result.seconds:.2f} s</p>{failure}<table><tr><th>line</th><th>step</th><th>ok</th>"
        f"<th>ms</th><th>latency</th><th>message</th></tr>{steps}</table>"
        f'<div class="chat">{"".join(chat)}</div></details></section>'
    )


def _coverage_html(coverage: Coverage) -> str:
    """The coverage: percent, nodes with hits, never-reached nodes and missed paths."""
    nodes = _rows(
        ([escape(name), str(hits)] for name, hits in coverage.nodes.items()),
        (hits == 0 for hits in coverage.nodes.values()),
    )
    unreached = ", ".join(map(escape, coverage.unreached)) or "none"
    missed = "".join(
        f"<li>{escape(i.node)}: {escape(i.path)}</li>" for i in coverage.missed_paths()
    )
    return (
        f"<h2>Menu coverage</h2><p><b>{coverage.percent:.1f}%</b> of "
        f"{len(coverage.paths)} paths taken</p>{_bar(coverage.percent, 100)}"
        f"<table><tr><th>node</th><th>times reached</th></tr>{nodes}</table>"
        f"<h3>Never reached</h3><p>{unreached}</p>"
        f"<h3>Missed paths</h3><ul>{missed or '<li>none</li>'}</ul>"
    )


def write_html(results: Sequence[ScriptResult], coverage: Coverage | None, path: Path, *,
               title: str = "Call scripts") -> None:  # fmt: skip
    """One self-contained HTML page: summary, each script's call as a chat, the coverage."""
    times = [s.elapsed_ms for r in results for s in r.steps if s.elapsed_ms is not None]
    scale = max(times, default=0.0)  # the bars share one scale, so scripts compare
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    page = [
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>generated {stamp}</p>",
        _summary(results, coverage),
        "<h2>Scripts</h2>",
        *(_section(i, r, scale) for i, r in enumerate(results)),
        _coverage_html(coverage) if coverage is not None else "",
        "</body></html>\n",
    ]
    path.write_text("".join(page), encoding="utf-8")
