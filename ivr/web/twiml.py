"""The one place TwiML is made: engine actions in, twilio's VoiceResponse out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.core.events import Action, Gather, Hangup, Listen, Say, Transfer

# (node, seq) -> URL; one for the keys Twilio posts, one for the fall-through on silence.
UrlFor = Callable[[str, int], str]
# A Say -> the URL of its audio for <Play>, or None to fall back to <Say>.
PlayUrl = Callable[[Say], str | None]


@dataclass(frozen=True)
class SayVoice:
    """A Twilio <Say> voice and language, for one of the hotline's languages."""

    voice: str
    language: str


@dataclass(frozen=True)
class Ears:
    """How a listening Gather asks Twilio to recognise speech."""

    languages: Mapping[str, str]  # the call's language -> Twilio's recognition language
    model: str = "phone_call"  # speechTimeout="auto" needs a model other than `default`


@dataclass(frozen=True)
class Renderer:
    """Renders actions with the configured voices and agent routing."""

    say_voices: Mapping[str, SayVoice]  # by language code (zh-CN, en-US)
    agent_number: str = ""
    agent_queue: str = "agents"
    ears: Ears = Ears(MappingProxyType({}))

    def _speak(self, target: VoiceResponse | GatherVerb, say: Say, play: PlayUrl | None) -> None:
        """Play the prompt's audio when there is some, else have Twilio speak the text."""
        url = play(say) if play is not None else None
        if url:
            target.play(url)
            return
        voice = self.say_voices.get(say.lang) or next(iter(self.say_voices.values()))
        target.say(say.text, voice=voice.voice, language=voice.language)

    def render(
        self, actions: Iterable[Action], seq: int, keys_url: UrlFor, silence_url: UrlFor,
        dialled_url: str = "", play: PlayUrl | None = None,
    ) -> str:  # fmt: skip
        """The TwiML document for one webhook answer."""
        response = VoiceResponse()
        for action in actions:
            match action:
                case Say():
                    self._speak(response, action, play)
                case Gather():
                    self._gather(response, action, keys_url(action.node, seq), play)
                    # Twilio runs what follows a Gather only when it times out unanswered.
                    response.redirect(silence_url(action.node, seq), method="POST")
                case Hangup():
                    response.hangup()
                case Transfer():
                    self._transfer(response, dialled_url)
        return str(response)

    def _gather(
        self, response: VoiceResponse, action: Gather, url: str, play: PlayUrl | None
    ) -> None:
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
        if action.listen is not None:
            options.update(self._listening(action.listen))
        gather = GatherVerb(**options)
        for say in action.prompts:
            self._speak(gather, say, play)
        response.append(gather)

    def _listening(self, listen: Listen) -> dict[str, object]:
        """A Gather's speech attributes: keys and speech, in the call's language, with the
        phrases the menu understands as hints (Twilio reads them comma-separated)."""
        found: dict[str, object] = {
            "input": "dtmf speech",
            "language": self.ears.languages.get(listen.lang, listen.lang),
            "speech_timeout": "auto",
            "speech_model": self.ears.model,
        }
        if listen.hints:
            found["hints"] = ", ".join(listen.hints)
        return found

    def _transfer(self, response: VoiceResponse, dialled_url: str) -> None:
        """Dial the agent number, or queue the caller when there is none."""
        if not self.agent_number:
            response.enqueue(self.agent_queue)
            return
        # Twilio posts DialCallStatus to the action when the agent leg ends, answered or not.
        response.dial(self.agent_number, action=dialled_url, method="POST")

    def spoken(self, says: Iterable[Say], play: PlayUrl | None = None) -> str:
        """A document that speaks and hangs up (busy, error, after an unanswered Dial)."""
        response = VoiceResponse()
        for say in says:
            self._speak(response, say, play)
        response.hangup()
        return str(response)
