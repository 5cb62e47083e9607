"""The one place TwiML is made: engine actions in, twilio's VoiceResponse out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.events import Action, Gather, Hangup, Say, Transfer

# (node, seq) -> URL; one for the keys Twilio posts, one for the fall-through on silence.
UrlFor = Callable[[str, int], str]


@dataclass(frozen=True)
class Renderer:
    """Renders actions with the configured voice and agent routing."""

    say_voice: str
    say_language: str
    agent_number: str = ""
    agent_queue: str = "agents"
    agent_unavailable: str = ""
    goodbye: str = ""

    def _say(self, target: VoiceResponse | GatherVerb, text: str) -> None:
        """Speak text with the configured Mandarin voice."""
        target.say(text, voice=self.say_voice, language=self.say_language)

    def render(
        self, actions: Iterable[Action], seq: int, keys_url: UrlFor, silence_url: UrlFor,
        dialled_url: str = "",
    ) -> str:  # fmt: skip
        """The TwiML document for one webhook answer."""
        response = VoiceResponse()
        for action in actions:
            match action:
                case Say(text=text):
                    self._say(response, text)
                case Gather():
                    self._gather(response, action, keys_url(action.node, seq))
                    # Twilio runs what follows a Gather only when it times out unanswered.
                    response.redirect(silence_url(action.node, seq), method="POST")
                case Hangup():
                    response.hangup()
                case Transfer():
                    self._transfer(response, dialled_url)
        return str(response)

    def _gather(self, response: VoiceResponse, action: Gather, url: str) -> None:
        """A Gather that speaks its prompt while it listens (so callers can type ahead)."""
        options: dict[str, object] = {
            "action": url,
            "method": "POST",
            "input": "dtmf",
            "finish_on_key": action.finish_on_key,
            "timeout": action.timeout,
        }
        if action.num_digits is not None:
            options["num_digits"] = action.num_digits
        gather = GatherVerb(**options)
        self._say(gather, action.prompt)
        response.append(gather)

    def _transfer(self, response: VoiceResponse, dialled_url: str) -> None:
        """Dial the agent number, or queue the caller when there is none."""
        if not self.agent_number:
            response.enqueue(self.agent_queue)
            return
        # Twilio posts DialCallStatus to the action when the agent leg ends, answered or not.
        response.dial(self.agent_number, action=dialled_url, method="POST")

    def after_dial(self, answered: bool) -> str:
        """What follows a Dial: hang up after a conversation, apologise after no answer."""
        if answered:
            response = VoiceResponse()
            response.hangup()
            return str(response)
        return self.spoken(self.agent_unavailable, self.goodbye)

    def spoken(self, *texts: str) -> str:
        """A document that says the texts and hangs up (busy, error)."""
        response = VoiceResponse()
        for text in texts:
            self._say(response, text)
        response.hangup()
        return str(response)
