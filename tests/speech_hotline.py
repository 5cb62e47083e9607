"""A tiny hand-made hotline that listens for speech, for the caller side's tests.

Until the engine renders speech Gathers, the simulator, the QA runner, the terminal phone
and the softphone are tested against this: a main menu `<Gather input="dtmf speech">` that
understands 余额 (or key 1), 人工 (key 0: an agent) and key 9 (a speech-only question), a
keys-only PIN prompt (`input="dtmf"`), and a confirmation with no `input` at all. It keeps
every request's form, and names its nodes and paths in X-IVR-Trace as the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, Response, request

from ivr.core.events import Reached, Took
from ivr.core.trace import TRACE_HEADER, encode

WELCOME = "欢迎致电。请说出您要办理的业务，例如医保余额，或按一。"
NOT_UNDERSTOOD = "抱歉，没有听清。"
ASK_PIN = "您要查询医保余额。请输入六位密码。"
CONFIRM = "请按一确认。"
ASK_NAME = "请说出您的姓名。"
GOODBYE = "谢谢，再见。"
HINTS = "医保余额,人工服务"


def gather(action: str, prompt: str, input_: str | None, **extra: str) -> str:
    """A Gather around one <Say>, then a goodbye for when it times out."""
    attributes = {"action": action, "timeout": "5", **extra}
    if input_ is not None:
        attributes["input"] = input_
    written = " ".join(f'{name}="{value}"' for name, value in attributes.items())
    return (f'<Gather {written}><Say language="zh-CN">{prompt}</Say></Gather>'
            f'<Say language="zh-CN">{GOODBYE}</Say><Hangup/>')  # fmt: skip


def main_menu(prefix: str = "") -> str:
    """The speech menu: keys or words, in Mandarin."""
    return gather("/voice/menu?node=main", prefix + WELCOME, "dtmf speech", numDigits="1",
                  language="cmn-CN", hints=HINTS)  # fmt: skip


@dataclass
class SpeechHotline:
    """The app and every request it received (path and form, in order)."""

    app: Flask
    seen: list[dict[str, str]] = field(default_factory=list)

    def forms(self, path: str) -> list[dict[str, str]]:
        """The forms posted to one path."""
        return [dict(s) for s in self.seen if s["_path"] == path]


def _menu_choice(form: dict[str, str]) -> tuple[str, list[object]]:
    """The answer to the main menu and its trace, for a key or a speech result."""
    said, digits = form.get("SpeechResult"), form.get("Digits")
    if (said is not None and "余额" in said) or digits == "1":
        how = "speech" if said is not None else "key 1"
        answer = gather("/voice/pin?node=pin", ASK_PIN, "dtmf", numDigits="6")
        return answer, [Took("main", f"{how} -> pin"), Reached("pin")]
    if (said is not None and "人工" in said) or digits == "0":
        return "<Dial>+8612333000</Dial>", [Took("main", "speech -> agent")]
    if digits == "9":
        answer = gather("/voice/end?node=name", ASK_NAME, "speech", language="cmn-CN")
        return answer, [Took("main", "key 9 -> name"), Reached("name")]
    return main_menu(NOT_UNDERSTOOD), [Took("main", "invalid key"), Reached("main")]


def speech_hotline() -> SpeechHotline:
    """A fresh fake hotline."""
    app = Flask("speech_hotline")
    hotline = SpeechHotline(app)

    @app.route("/voice/<path:step>", methods=["GET", "POST"])
    @app.route("/voice", methods=["GET", "POST"], defaults={"step": ""})
    def voice(step: str) -> Response:
        """Answer each step; keep its form."""
        form = request.values.to_dict()
        hotline.seen.append({"_path": request.path, **form})
        trace: list[object] = []
        if step == "":
            body, trace = main_menu(), [Reached("main")]
        elif step == "menu":
            body, trace = _menu_choice(form)
        elif step == "pin":
            body = gather("/voice/end?node=confirm", CONFIRM, None, numDigits="1")
        elif step == "end":
            body = f'<Say language="zh-CN">{GOODBYE}</Say><Hangup/>'
        else:  # the status callback
            body = ""
        response = Response(f"<Response>{body}</Response>", content_type="text/xml")
        response.headers[TRACE_HEADER] = encode(trace)
        return response

    return hotline
