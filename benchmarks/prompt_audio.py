"""Prompt audio: render the whole catalogue with pyttsx3, then compare play and say mode.

    .venv/bin/python benchmarks/prompt_audio.py [--calls N] [--json FILE]

1. Renders every prompt and read-back piece of the default menu (zh-CN and en-US) into a
   fresh folder with the real engine, then renders again (everything cached).
2. Drives the same in-process calls in say mode and in play mode, and compares each
   step's webhook latency: play mode must add less than 20%, since nothing is synthesized
   on the request path.
3. Times what Twilio's fetch of a read-back costs: joining the balance sentence's pieces.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from inprocess_call import percentile
from inprocess_call import run as run_calls
from rich.console import Console
from rich.table import Table

from ivr.audio.catalogue import Catalogue, VoiceChoice
from ivr.audio.plan import plan, render
from ivr.audio.tts import Pyttsx3Synthesizer, pick_voice
from ivr.config import SETTINGS
from ivr.menu.load import load_menu

RATE = int(SETTINGS["IVR_TTS_RATE"][0])
BALANCE = "您的医保个人账户余额为一千二百三十四元五角六分，数据截至二零二六年十一月二十五日。"


def render_catalogue(folder: Path) -> dict[str, float]:
    """Render the default menu's catalogue twice; the second run finds everything cached."""
    menu = load_menu(SETTINGS["IVR_MENU"][0])
    jobs = plan(menu)
    with Pyttsx3Synthesizer() as synth:
        installed = synth.voices()
        voices = {
            lang: VoiceChoice(pick_voice(installed, lang).id, RATE) for lang in menu.languages
        }
        first = render(synth, jobs, folder, voices)
        second = render(synth, jobs, folder, voices)
    return {"files": first.rendered, "audio_seconds": first.audio_seconds,
            "render_seconds": first.elapsed, "ms_per_file": 1000 * first.elapsed / first.rendered,
            "cached_rerun_seconds": second.elapsed}  # fmt: skip


def join_cost(folder: Path, rounds: int = 200) -> dict[str, float]:
    """Milliseconds to compose and join the balance read-back: cold, then warm."""
    catalogue = Catalogue.load(folder)
    t0 = time.perf_counter()
    parts = catalogue.compose(BALANCE, "zh-CN")
    assert parts is not None, "the balance sentence must be joinable from pieces"
    catalogue.join(parts)
    cold = (time.perf_counter() - t0) * 1000
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        catalogue.join(catalogue.compose(BALANCE, "zh-CN") or [])
        samples.append((time.perf_counter() - t0) * 1000)
    return {"cold_ms": cold, "warm_p50_ms": percentile(samples, 50),
            "warm_mean_ms": statistics.fmean(samples), "pieces": len(parts)}  # fmt: skip


def compare(calls: int, config: dict[str, str], rounds: int = 3) -> tuple[dict, dict]:
    """Each mode's step timings: rounds interleaved, so machine noise hits both alike."""
    runs: dict[str, list[dict]] = {"say": [], "play": []}
    for mode in runs:
        run_calls(3, {**config, "IVR_SPEECH": mode})  # warm-up: imports and caches
    for _ in range(rounds):
        for mode, results in runs.items():
            results.append(run_calls(calls, {**config, "IVR_SPEECH": mode}))
    return tuple(_median_of(results) for results in runs.values())  # type: ignore[return-value]


def _median_of(results: list[dict]) -> dict:
    """One result whose per-step p50 is the median of the rounds' p50s."""
    steps = results[0]["steps_ms"]
    merged = {step: {"p50": statistics.median(r["steps_ms"][step]["p50"] for r in results),
                     "p95": statistics.median(r["steps_ms"][step]["p95"] for r in results)}
              for step in steps}  # fmt: skip
    rate = statistics.median(r["calls_per_second"] for r in results)
    return {"rounds": len(results), "calls_per_round": results[0]["calls"],
            "calls_per_second": rate, "steps_ms": merged}  # fmt: skip


def main() -> None:
    """Render, compare, print, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="complete calls per mode")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "audio"
        rendering = render_catalogue(folder)
        say, play = compare(args.calls, {"IVR_AUDIO_DIR": str(folder)})
        joining = join_cost(folder)
    console.print(f"Rendered {rendering['files']:.0f} files ({rendering['audio_seconds']:.0f} s"
                  f" of audio) in {rendering['render_seconds']:.1f} s,"
                  f" {rendering['ms_per_file']:.0f} ms per file; a second run (all cached) took"
                  f" {rendering['cached_rerun_seconds']:.2f} s.")  # fmt: skip
    table = Table(title=f"Webhook step latency, median of 3 rounds of {args.calls} calls per mode")
    for column in ("step", "say p50 ms", "play p50 ms", "play / say"):
        table.add_column(column, justify="left" if column == "step" else "right")
    ratios = {}
    for step, stats in say["steps_ms"].items():
        said, played = stats["p50"], play["steps_ms"][step]["p50"]
        ratios[step] = played / said
        table.add_row(step, f"{said:.1f}", f"{played:.1f}", f"{ratios[step]:.2f}")
    console.print(table)
    console.print(
        f"Joining the balance read-back ({joining['pieces']} pieces):"
        f" {joining['cold_ms']:.1f} ms cold, {joining['warm_p50_ms']:.2f} ms warm."
    )
    if args.json:
        result = {"rendering": rendering, "say": say, "play": play, "play_over_say": ratios,
                  "balance_join": joining}  # fmt: skip
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
