"""`call`: a phone in the terminal that dials the hotline, and can record the call as a script."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape

from ivr.cli.speaker import Speaker, make_speaker
from ivr.cli.targets import in_process_app
from ivr.core.identity import mask_keyed
from ivr.qa.record import Recording, dump_script
from ivr.qa.targets import (
    AUTH_TOKEN_ENV,
    IN_PROCESS_VOICE,
    status_url,
    voice_url,
)
from ivr.sim.caller import KEYS, Caller
from ivr.sim.speech import (
    DEFAULT_CONFIDENCE,
    NotListening,
    check_said,
    mask_said,
    require_input,
    said_line,
)
from ivr.sim.transport import (
    FreshContextTransport,
    HttpTransport,
    SimulatorError,
    WebhookError,
)
from ivr.sim.turns import EndState

console = Console(highlight=False)  # digits in keys and prompts are not numbers to colour
DEFAULT_FROM = "+8613800138000"
SECRET_ASKED = re.compile(r"密码|\bPIN\b|password", re.IGNORECASE)
HELP = (
    "keys 0-9 * # (several at once, e.g. 65010219680312109*#), say WORDS = speak instead "
    "where the hotline listens for speech (say 医保余额 @0.4: with that confidence, 0.9 if "
    "left out), t = stay silent (the Gather times out), h = hang up, ? = this help"
)
# `say 医保余额` or `say 医保余额 @0.4`: the words, then an optional confidence after an @.
SAY_LINE = re.compile(r"say(?:\s+(?P<text>.*?))??(?:\s*@\s*(?P<confidence>\S*))?", re.I | re.S)


class PhoneSession:
    """One interactive call: shows what is heard, sends what is typed, records the call."""

    def __init__(self, caller: Caller, out: Console, speaker: Speaker | None = None) -> None:
        """Wrap a caller that has not dialled yet."""
        self.caller, self.out, self.speaker = caller, out, speaker
        self.recording = Recording()
        self.error: str | None = None

    @property
    def live(self) -> bool:
        """True while the hotline waits for the caller's keys."""
        return self.error is None and not self.caller.ended and self.caller.waiting is not None

    def asks_for_secret(self) -> bool:
        """True when the hotline just asked for a PIN, so the terminal should hide the keys."""
        return bool(SECRET_ASKED.search(self.caller.text_since_last_input))

    def run(self, lines: Iterable[str]) -> None:
        """Dial, then act on each line until the call ends; EOF or Ctrl-C hangs up."""
        try:
            self._act(self.caller.dial)
            source = iter(lines)
            while self.live:
                line = next(source, None)
                if line is None:
                    self._hang_up()
                else:
                    self._handle(line)
        except KeyboardInterrupt:
            self.out.print()
            self._hang_up()
        self._show_end()

    def _handle(self, line: str) -> None:
        """Act on one typed line; an invalid one gets a hint and sends nothing."""
        said = SAY_LINE.fullmatch(line.strip())
        if said is not None:
            return self._say(said["text"] or "", said["confidence"])
        text = "".join(line.split())
        if not text:
            return
        if text == "?":
            self.out.print(HELP)
        elif text.lower() == "t":
            self._you("(silence)")
            self.recording.steps.append({"silence": 1})
            self._act(self.caller.silence)
        elif text.lower() == "h":
            self._hang_up()
        elif KEYS.fullmatch(text):
            self._press(text)
        else:  # the line may be a mistyped PIN: only the offending characters are shown
            bad = "".join(sorted(set(text) - set("0123456789*#")))
            self.out.print(f"[yellow]Not a key: {escape(repr(bad))}.[/] Type ? for help.")

    def _press(self, keys: str) -> None:
        """Key a line into one Gather after another, as Twilio feeds keys typed ahead."""
        while keys:
            gather = self.caller.waiting if self.live else None
            if gather is None:  # the keys are not shown: they may be a PIN
                self.out.print(f"[yellow]{len(keys)} key(s) left over: the call ended.[/]")
                return
            try:
                require_input(gather, speech=False)
            except NotListening as exc:  # the keys may be a PIN: never shown
                self.out.print(f"[yellow]Not keyed: {escape(str(exc))}.[/] Type say WORDS.")
                return
            rest = gather.collect(keys)[2]
            chunk, keys = keys[: len(keys) - len(rest)], rest
            self._you(mask_keyed(chunk))
            # Recorded per Gather, so that a PIN is keys of its own and never written.
            self.recording.press(chunk)
            self._act(functools.partial(self.caller.press, chunk))

    def _say(self, text: str, written: str | None) -> None:
        """Speak words into the waiting Gather, if it listens for speech; else a hint."""
        try:
            confidence = _confidence(written)
            check_said(text, confidence)
            require_input(self.caller.waiting if self.live else None, speech=True)
        except (ValueError, NotListening) as exc:  # the words may hold a PIN: never shown
            self.out.print(f"[yellow]Not said: {escape(str(exc))}.[/] Type ? for help.")
            return
        if not self.live:
            return
        self._you(f"say {said_line(mask_said(text.strip()), confidence)}")
        self.recording.say(text.strip(), confidence)
        self._act(functools.partial(self.caller.say, text, confidence))

    def _act(self, action: Callable[[], object]) -> None:
        """Run a caller action, show and speak what it made heard, and note an error."""
        mark = len(self.caller.heard)
        try:
            action()
        except WebhookError as exc:  # the first line: the body follows
            self.error = f"The caller would hear Twilio's application error: {exc}".splitlines()[0]
        except SimulatorError as exc:  # TwiML the simulator cannot follow
            self.error = f"The simulator cannot go on: {exc}"
        heard = self.caller.heard[mark:]
        for utterance in heard:
            self.out.print(f"[bold cyan]12333 ▸[/] {escape(utterance)}", soft_wrap=True)
            if self.speaker is not None:
                self.speaker.say(utterance)
        self.recording.heard(heard)
        if self.error is not None:
            self.out.print(self.error, style="red", soft_wrap=True, markup=False)

    def _hang_up(self) -> None:
        """The caller hangs up."""
        if self.caller.ended or self.error is not None:
            return
        self._you("(hang up)")
        self.recording.steps.append("hangup")
        self.caller.hangup()

    def _you(self, what: str) -> None:
        """Echo the caller's action, keys masked as a transcript keeps them."""
        self.out.print(f"[bold green]you   ▸[/] {escape(what)}", soft_wrap=True)

    def _show_end(self) -> None:
        """Say how the call ended."""
        caller, state = self.caller, self.caller.end_state
        ends = {
            EndState.HANGUP: "the hotline hung up",
            EndState.TRANSFER: f"transferred to {caller.dialed or 'an agent'}",
            EndState.ENQUEUE: f"queued in {caller.queue or 'a queue'}",
            EndState.CALLER_HANGUP: "you hung up",
            EndState.REJECTED: "the hotline rejected the call",
        }
        how = "an error" if self.error else ends.get(state, "no end state")
        self.out.print(f"[bold]Call ended:[/] {escape(how)}.")


def _confidence(written: str | None) -> float:
    """The confidence typed after an @, or the default."""
    if written is None:
        return DEFAULT_CONFIDENCE
    try:
        return float(written)
    except ValueError:
        raise ValueError(f"after @ comes the confidence, 0 to 1, not {written!r}") from None


def make_caller(url: str | None, auth_token: str | None, from_: str,
                app: Flask | None = None) -> Caller:  # fmt: skip
    """A caller for the deployed hotline at `url`, or for the in-process `app`."""
    if url is None:
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        token = auth_token or app.config["IVR_AUTH_TOKEN"] or None
        return Caller(FreshContextTransport(app), auth_token=token, from_=from_,
                      status_callback=status_url(IN_PROCESS_VOICE))  # fmt: skip
    voice = voice_url(url)
    return Caller(HttpTransport(), voice_url=voice, auth_token=auth_token or None, from_=from_,
                  status_callback=status_url(voice))  # fmt: skip


def terminal_lines(session: PhoneSession) -> Iterator[str]:
    """Typed lines; hidden while the hotline asks for a PIN. Ends on EOF or Ctrl-C."""
    while True:
        secret = session.asks_for_secret()
        waiting = session.caller.waiting
        ask = "keys or say" if waiting is not None and waiting.takes_speech else "keys"
        try:
            yield click.prompt(f"{ask} (hidden)" if secret else ask, default="",
                               show_default=False, hide_input=secret,
                               prompt_suffix="> ")  # fmt: skip
        except click.Abort:  # EOF or Ctrl-C: end the line the prompt left open
            click.echo()
            return


def write_script(path: Path, session: PhoneSession) -> None:
    """Save the call as a call script, and say how to replay it."""
    caller = session.caller
    script = session.recording.document(path.stem, caller.from_, caller.end_state)
    text = dump_script(script)
    try:
        path.write_text(text, "utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror or exc}") from None
    console.print(f"[green]Recorded[/] {len(script['steps'])} steps to {escape(str(path))}",
                  soft_wrap=True)  # fmt: skip
    names = session.recording.variables
    if names:
        used = ", ".join("${" + n + "}" for n in names)
        replay = " ".join(f"--var {n}=…" for n in names)
        console.print(f"Recorded with {used}: replay with {replay}", soft_wrap=True, markup=False)
    if session.error:
        console.print("The call ended in an application error: the script has no expect_end.")


@click.command("call")
@click.option("--url", help="Call the hotline deployed at this base URL (its /voice).")
@click.option("--auth-token", envvar=AUTH_TOKEN_ENV, show_envvar=True,
              help="Twilio auth token that signs requests [in-process: the app's].")  # fmt: skip
@click.option("--from", "from_", default=DEFAULT_FROM, show_default=True,
              help="The caller's number (Twilio's From).")  # fmt: skip
@click.option("--speak", is_flag=True, help="Also speak what is heard (pyttsx3 and a player).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the call as a call script (YAML) to replay with `calls run`.")  # fmt: skip
@with_appcontext
def call_command(url: str | None, auth_token: str | None, from_: str, speak: bool,
                 record: Path | None) -> None:  # fmt: skip
    """Call the hotline from the terminal: hear it, key or say, t for silence, h to hang up."""
    if url is not None:
        voice_url(url)  # refused before the call
    if record is not None and not record.parent.is_dir():
        raise click.BadParameter(f"folder {record.parent} does not exist", param_hint="--record")
    target = in_process_app() if url is None else None
    try:
        _call(make_caller(url, auth_token, from_, target), from_, speak, record)
    finally:
        if target is not None:
            target.extensions["ivr"].engine.dispose()


def _call(caller: Caller, from_: str, speak: bool, record: Path | None) -> None:
    """Run the interactive call, then save the recording and set the exit code."""
    console.print(f"[bold]Calling[/] {escape(caller.voice_url)} from {escape(from_)}. {HELP}.",
                  soft_wrap=True)  # fmt: skip
    speaker = make_speaker(console) if speak else None
    session = PhoneSession(caller, console, speaker)
    try:
        session.run(terminal_lines(session))
    finally:
        if speaker is not None:
            speaker.close()
    if record is not None:
        write_script(record, session)
    if session.error:
        raise SystemExit(1)
