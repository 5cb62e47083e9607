"""Where a webhook step's time goes: pyinstrument over in-process calls, written as text.

    .venv/bin/python benchmarks/profile_step.py [--calls 30] [-o benchmarks/profile.txt]

The profile covers every step of the benchmark's call except the PIN check (a keyed HMAC
of microseconds, timed on its own by bench_all.py), on SQLite, signed requests,
with the JSON request log on, as a worker runs them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pyinstrument import Profiler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_servers import AUTH_TOKEN, PIN_SETTINGS, database, load_demo  # noqa: E402

from ivr import create_app  # noqa: E402
from ivr.sim.caller import Caller, FlaskTransport  # noqa: E402
from store.demo import WANG_JIANGUO  # noqa: E402


def profile(calls: int) -> str:
    """Profile `calls` calls' steps (the PIN step paused out) and return the text report."""
    with database("sqlite") as url:
        load_demo(url)
        app = create_app({"IVR_DATABASE_URL": url, "IVR_AUTH_TOKEN": AUTH_TOKEN,
                          "IVR_SPEECH": "say", "IVR_RATE_LIMIT_CALLER": "off",
                          "IVR_RATE_LIMIT_ADDRESS": "off", **PIN_SETTINGS})  # fmt: skip
        sink = open(os.devnull, "w")  # the log lines are formatted and written, unread
        handlers = logging.getLogger("ivr").handlers
        streams = [handler.setStream(sink) for handler in handlers]
        profiler = Profiler(interval=0.0002)
        for _ in range(calls):
            caller = Caller(FlaskTransport(app), auth_token=AUTH_TOKEN, fetch_audio=False,
                            status_callback="http://localhost/voice/status")  # fmt: skip
            with profiler:
                caller.dial()
                caller.press("2")
                caller.press(WANG_JIANGUO[:-1] + "*#")
            caller.press("135790#")  # not profiled: the PIN step, timed alone
            with profiler:
                caller.press("1")
                caller.press("2")
                caller.hangup()
        app.extensions["ivr"].engine.dispose()
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
        sink.close()
    return profiler.output_text(unicode=True, color=False)


def main() -> int:
    """Write the profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "profile.txt")
    args = parser.parse_args()
    args.output.write_text(profile(args.calls))
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
