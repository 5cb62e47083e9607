"""Drive complete scripted calls over HTTP at a target concurrency, and time every step.

    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000/voice [--concurrency 50]
        [--calls N | --seconds S] [--think-ms MS] [--auth-token T] [--json FILE] [--no-fallback]

Each simulated caller (one thread each) runs the call script of the hotline's demo account,
welcome -> 2 -> ID -> PIN -> balance (1) -> 家庭共济 (2) -> hang up, again and again, with the
project's own caller simulator: signed requests, every TwiML answer checked against
Twilio's checker. `--think-ms` waits before each key press (0.5-1.5 times it, at random),
as a caller listening to a prompt would. The callers' first calls start spread over one
call's length (the ramp), and only the calls begun after it are timed and counted.
`--baseline` presses 1 at every step instead, for benchmarks/baseline_app.py.

As a Twilio number with the hotline's fallback URL ("primary handler fails") would, a caller
whose request fails (no answer, a 5xx, bad TwiML) asks URL/fallback and goes on with its
answer; the summary counts those `fallbacks`. `--no-fallback` (and `--baseline`) ends the
call at the failure instead, as a number without one would.

`make bench` (benchmarks/bench_all.py) starts the servers itself and runs the whole matrix.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivr.sim.caller import Caller, HttpTransport, Reply, SimulatorError, TurnKind  # noqa: E402
from ivr.sim.twiml_check import TwimlChecker  # noqa: E402
from store.demo import WANG_JIANGUO  # noqa: E402

# (step type, keys; None dials or hangs up, and what the IVR must say after it).
IVR_SCRIPT = (
    ("welcome", None, "欢迎"),
    ("menu", "2", ""),
    ("ID", WANG_JIANGUO[:-1] + "*#", ""),
    ("PIN", "135790#", ""),
    ("balance", "1", "余额为"),
    ("家庭共济", "2", "共济"),
    ("hangup", None, ""),
)
BASELINE_SCRIPT = tuple((name, "1" if keys else None, "") for name, keys, _ in IVR_SCRIPT)
MAX_ERROR_SAMPLES = 5


@dataclass
class LoadResult:
    """What one load run measured."""

    concurrency: int
    think_ms: int
    calls: int = 0
    requests: int = 0
    fallbacks: int = 0  # requests to the fallback URL, after a request that failed
    seconds: float = 0.0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    step_ms: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """Rates, percentiles per step type, and errors, ready for JSON."""
        steps = {name: percentiles(values) for name, values in self.step_ms.items()}
        light = [v for name, values in self.step_ms.items() if name != "PIN" for v in values]
        seconds = self.seconds or 1e-9
        return {"concurrency": self.concurrency, "think_ms": self.think_ms,
                "calls": self.calls, "requests": self.requests, "fallbacks": self.fallbacks,
                "seconds": round(self.seconds, 2),
                "calls_per_s": round(self.calls / seconds, 2),
                "requests_per_s": round(self.requests / seconds, 1),
                "errors": self.errors, "error_samples": self.error_samples,
                "steps": steps, "all_but_pin": percentiles(light)}  # fmt: skip


def percentiles(values: list[float]) -> dict[str, float]:
    """count, p50, p95 and p99 (nearest rank) of millisecond timings."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0}

    def rank(q: float) -> float:
        """The nearest-rank percentile q."""
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2)

    return {"count": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99)}


class _Transport(HttpTransport):
    """HTTP that notes a refused status callback, which the simulator (like Twilio) ignores."""

    refused: int | None = None

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """POST, remembering a status callback's 4xx or 5xx."""
        reply = super().post(url, form, headers)
        if url.endswith("/status") and reply.status >= 400:
            self.refused = reply.status
        return reply


def one_call(voice_url: str, token: str | None, script, think_ms: int, pace, checker,
             fallback: bool = True) -> tuple:  # fmt: skip
    """Run the script once; return (timings by step, requests made, of them to the fallback
    URL, error or None)."""
    transport = _Transport(timeout=15)
    caller = Caller(transport, voice_url=voice_url, auth_token=token, checker=checker,
                    fetch_audio=False, status_callback=voice_url + "/status",
                    fallback_url=voice_url + "/fallback" if fallback else None)  # fmt: skip
    timings, error = _script(caller, transport, script, think_ms, pace)
    rescued = sum(1 for turn in caller.transcript if turn.kind == TurnKind.REQUEST
                  and (turn.url or "").endswith("/voice/fallback"))  # fmt: skip
    posted = caller.ended  # then the status callback was posted too
    return timings, caller.requests + posted, rescued, error


def _script(caller: Caller, transport: _Transport, script, think_ms: int, pace) -> tuple:
    """Act out the script; return (timings by step, error or None)."""
    timings: list[tuple[str, float]] = []
    try:
        for name, keys, expected in script:
            if keys is not None and think_ms:
                # The caller listens to the prompt, and people key at their own pace.
                time.sleep(think_ms / 1000 * pace.uniform(0.5, 1.5))
            started = time.perf_counter()
            heard = _act(caller, keys, name)
            timings.append((name, (time.perf_counter() - started) * 1000))
            if expected and expected not in heard:
                return timings, f"{name}: expected {expected!r}, heard {heard!r}"
    except SimulatorError as exc:  # a refused answer, a dropped connection, a timeout
        return timings, f"{name}: {str(exc).splitlines()[0]}"
    except Exception as exc:  # a bug here must show as an error, not a caller gone quiet
        return timings, f"{name}: {type(exc).__name__}: {exc}"
    if transport.refused:
        return timings, f"hangup: status callback HTTP {transport.refused}"
    return timings, None


def _act(caller: Caller, keys: str | None, name: str) -> str:
    """Dial, press or hang up, as the step says."""
    if keys is not None:
        return caller.press(keys)
    if name == "hangup":
        caller.hangup()
        return ""
    return caller.dial()


def run_load(voice_url: str, *, concurrency: int, calls: int | None = None,
             seconds: float | None = None, think_ms: int = 0, token: str | None = None,
             baseline: bool = False, fallback: bool = True) -> LoadResult:  # fmt: skip
    """Keep `concurrency` calls going until `calls` have been made or `seconds` have passed;
    with `fallback` (not for the baseline app, which has none), failures go to URL/fallback."""
    script = BASELINE_SCRIPT if baseline else IVR_SCRIPT
    result = LoadResult(concurrency, think_ms, step_ms={name: [] for name, *_ in script})
    checker, lock = TwimlChecker(), threading.Lock()
    # Callers who all dial in the same millisecond, then all key their PINs together, are a
    # burst no hotline sees: they start spread over one call's length (the ramp), and only
    # calls begun after the ramp, with every caller on the line, are timed.
    ramp = sum(1 for _, keys, _ in script if keys is not None) * think_ms / 1000
    measure_from = time.perf_counter() + ramp
    deadline = measure_from + seconds if seconds else None
    budget = [calls if calls is not None else 10**9]

    def caller_loop(seed: int) -> None:
        """One simulated caller: calls back to back until the budget or the time runs out."""
        pace = random.Random(seed)
        time.sleep(pace.uniform(0, ramp))
        while deadline is None or time.perf_counter() < deadline:
            timed = time.perf_counter() >= measure_from
            with lock:
                if timed and budget[0] <= 0:
                    return
                budget[0] -= timed
            timings, *outcome = one_call(voice_url, token, script, think_ms, pace, checker,
                                         fallback and not baseline)  # fmt: skip
            with lock:
                _record(result, timings if timed else None, *outcome)

    threads = [threading.Thread(target=caller_loop, args=(n,), daemon=True)
               for n in range(concurrency)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - measure_from
    return result


def _record(result: LoadResult, timings, requests: int, rescued: int, error: str | None) -> None:
    """Add one call's outcome to the result (under the lock); timings None: the ramp's."""
    result.fallbacks += rescued  # the ramp's too: none is hidden
    if timings is not None:
        result.requests += requests
        for name, ms in timings:
            result.step_ms[name].append(ms)
        result.calls += error is None
    if error is not None:  # a ramp call's failure counts too: no error is hidden
        result.errors += 1
        if len(result.error_samples) < MAX_ERROR_SAMPLES:
            result.error_samples.append(error[:300])


def main(argv: list[str] | None = None) -> int:
    """Load a running server and print (and optionally save) what was measured."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="The voice webhook, e.g. http://host/voice.")
    parser.add_argument("--concurrency", type=int, default=10, help="Calls in progress at once.")
    parser.add_argument("--calls", type=int, help="Stop after this many calls [default 100].")
    parser.add_argument("--seconds", type=float, help="Stop starting calls after this long.")
    parser.add_argument("--think-ms", type=int, default=0, help="Pause before each key press.")
    parser.add_argument("--auth-token", help="Twilio auth token to sign with (the server's).")
    parser.add_argument("--baseline", action="store_true", help="Press 1 at every step.")
    parser.add_argument("--no-fallback", action="store_true",
                        help="A failed request ends the call (no URL/fallback).")  # fmt: skip
    parser.add_argument("--json", type=Path, help="Write the summary here as JSON.")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or (args.calls is not None and args.calls < 1):
        parser.error("--concurrency and --calls must be at least 1")
    calls = args.calls if args.calls or args.seconds else 100
    result = run_load(args.url.rstrip("/"), concurrency=args.concurrency, calls=calls,
                      seconds=args.seconds, think_ms=args.think_ms, token=args.auth_token,
                      baseline=args.baseline, fallback=not args.no_fallback)  # fmt: skip
    summary = result.summary()
    from bench_report import print_load

    print_load(summary, title=f"{args.url}, {args.concurrency} concurrent calls")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
