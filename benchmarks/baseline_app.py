"""The anchor: the simplest possible Twilio voice webhook, for the benchmarks to compare with.

One POST view returns a <Gather> built with twilio's VoiceResponse, whose action is the
same view, so a scripted call (dial, keys, keys, ..., the status callback) runs against it.
"""

from __future__ import annotations

from flask import Flask, Response
from twilio.twiml.voice_response import VoiceResponse


def create_app() -> Flask:
    """A Flask app with one voice webhook that always answers the same Gather."""
    app = Flask(__name__)

    @app.post("/voice")
    @app.post("/voice/status")  # Twilio's status callback at hang-up: answered the same way
    def voice() -> Response:
        """Answer every call step with a Gather that posts the keys back here."""
        twiml = VoiceResponse()
        gather = twiml.gather(action="/voice", num_digits=1, timeout=5)
        gather.say("欢迎致电，请按键。", language="zh-CN")
        twiml.redirect("/voice")
        return Response(str(twiml), mimetype="text/xml")

    return app
