"""TwiML for voice, as Twilio documents it: each element, what it may hold, its attributes.

The checker (ivr.sim.twiml_check) reads only this table. An attribute's type is a small
value of its own (whole numbers in a range, true/false, a choice of words, an HTTP method,
a URL, keys), so a message can say what was expected. docs/twiml.md tells the rules in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.sim.twiml_types import Kind, Listed, OneOf, Pattern, Text, Url, Whole, Words

BOOL = OneOf(("true", "false"))
METHOD = OneOf(("GET", "POST"))
URL = Url()
TEXT = Text()
LANGUAGE = Pattern(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*", "a language tag such as cmn-CN or en-US")
ONE_KEY = Pattern(r"[0-9#*]?", "one key (0-9, # or *), or empty for none")
KEY_SET = Pattern(r"[0-9#*]*", "keys (0-9, # and *)")
SEND_DIGITS = Pattern(r"[0-9#*wW]+", "keys to send (0-9, #, * and w for a pause)")
INPUT = Words(("dtmf", "speech"))
SPEECH_TIMEOUT = Pattern(r"auto|[1-9][0-9]*", "a whole number of seconds from 1, or auto")
# What <Gather> recognises speech in: a language with its region (13512: `en` is refused).
SPEECH_LANGUAGE = Pattern(
    r"[a-z]{2,3}(-[A-Z][a-z]{3})?-([A-Z]{2}|[0-9]{3})",
    "a speech language with its region, such as cmn-Hans-CN or en-US",
)
# Twilio's generic speech models, then its provider-specific ones (googlev2_…, deepgram_…).
SPEECH_MODEL = Pattern(
    r"default|numbers_and_commands|phone_call|experimental_conversations"
    r"|experimental_utterances|googlev2_[a-z_]+|deepgram_[a-z0-9_-]+",
    "default, numbers_and_commands, phone_call, experimental_conversations,"
    " experimental_utterances, or a googlev2_ or deepgram_ model",
)
HINTS = Listed(100, 500, "words or phrases")
TRIM = OneOf(("trim-silence", "do-not-trim"))
RECORD_DIAL = OneOf(("true", "false", "do-not-record", "record-from-answer",
                     "record-from-ringing", "record-from-answer-dual",
                     "record-from-ringing-dual"))  # fmt: skip
BEEP = OneOf(("true", "false", "onEnter", "onExit"))
STATUS = {"statusCallback": URL, "statusCallbackMethod": METHOD, "statusCallbackEvent": TEXT}
RECORDING = {"recordingStatusCallback": URL, "recordingStatusCallbackMethod": METHOD,
             "recordingStatusCallbackEvent": TEXT}  # fmt: skip
SSML = frozenset({"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as",
                  "sub", "w"})  # fmt: skip
# Messaging TwiML: no voice verb, though the 2016 schema still lists <Sms> and <Message>
# (a call could once send a text); named apart so the message says what they are.
MESSAGING = frozenset({"Message", "Sms", "Body", "Media"})


@dataclass(frozen=True)
class Element:
    """What one TwiML element may hold and carry."""

    children: frozenset[str] = frozenset()
    text: bool = False  # may hold text (a URL, a number, words to say)
    needs_text: str = ""  # when it must hold text: what the text is, for the message
    attributes: dict[str, Kind] = field(default_factory=dict)
    text_kind: Kind = TEXT  # what its text must be, when it has some


def _element(children: str = "", *, text: bool = False, needs_text: str = "",
             text_kind: Kind = TEXT, **attributes: Kind) -> Element:  # fmt: skip
    """An Element from space-separated child names and keyword attributes."""
    return Element(frozenset(children.split()), text or bool(needs_text), needs_text,
                   attributes, text_kind)  # fmt: skip


VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Dial", "Record", "Hangup", "Redirect",
                   "Reject", "Enqueue", "Leave", "Refer", "Connect", "Start", "Stop",
                   "Pay"})  # fmt: skip
ROOT = "Response"
ELEMENTS: dict[str, Element] = {
    "Response": Element(VERBS, attributes={"version": TEXT}),
    "Say": Element(
        SSML, text=True, attributes={"voice": TEXT, "language": LANGUAGE, "loop": Whole(0)}
    ),  # fmt: skip
    "Play": _element(text=True, text_kind=URL, loop=Whole(0), digits=SEND_DIGITS),
    "Pause": _element(length=Whole(0)),
    "Gather": _element(
        "Say Play Pause",
        action=URL,
        method=METHOD,
        timeout=Whole(0),
        finishOnKey=ONE_KEY,
        numDigits=Whole(1),
        input=INPUT,
        language=SPEECH_LANGUAGE,
        hints=HINTS,
        speechTimeout=SPEECH_TIMEOUT,
        speechModel=SPEECH_MODEL,
        profanityFilter=BOOL,
        partialResultCallback=URL,
        partialResultCallbackMethod=METHOD,
        actionOnEmptyResult=BOOL,
        bargeIn=BOOL,
        enhanced=BOOL,
    ),
    "Dial": _element(
        "Number Client Conference Queue Sip Sim Application WhatsApp",
        text=True,
        action=URL,
        method=METHOD,
        timeout=Whole(0),
        hangupOnStar=BOOL,
        timeLimit=Whole(0),
        callerId=TEXT,
        record=RECORD_DIAL,
        trim=TRIM,
        answerOnBridge=BOOL,
        ringTone=TEXT,
        sequential=BOOL,
        referUrl=URL,
        referMethod=METHOD,
        recordingTrack=TEXT,
        **RECORDING,
    ),
    "Number": _element(
        needs_text="a phone number",
        sendDigits=SEND_DIGITS,
        url=URL,
        method=METHOD,
        byoc=TEXT,
        **STATUS,
    ),  # fmt: skip
    "Client": _element("Identity Parameter", text=True, url=URL, method=METHOD, **STATUS),
    "Identity": _element(needs_text="a client identity"),
    "Parameter": _element(name=TEXT, value=TEXT),
    "Conference": _element(
        needs_text="a conference name",
        muted=BOOL,
        beep=BEEP,
        startConferenceOnEnter=BOOL,
        endConferenceOnExit=BOOL,
        waitUrl=URL,
        waitMethod=METHOD,
        maxParticipants=Whole(1, 250),
        record=OneOf(("do-not-record", "record-from-start")),
        region=TEXT,
        trim=TRIM,
        coach=TEXT,
        jitterBufferSize=TEXT,
        participantLabel=TEXT,
        eventCallbackUrl=URL,
        **STATUS,
        **RECORDING,
    ),
    "Queue": _element(
        needs_text="a queue name",
        url=URL,
        method=METHOD,
        reservationSid=TEXT,
        postWorkActivitySid=TEXT,
        postworkActivitySid=TEXT,
    ),  # fmt: skip
    "Sip": _element(
        needs_text="a SIP URI", username=TEXT, password=TEXT, url=URL, method=METHOD, **STATUS
    ),  # fmt: skip
    "Sim": _element(needs_text="a SIM SID"),
    "Application": _element(
        "ApplicationSid Parameter",
        url=URL,
        method=METHOD,
        customerId=TEXT,
        copyParentTo=BOOL,
        **STATUS,
    ),  # fmt: skip
    "ApplicationSid": _element(needs_text="an application SID"),
    "WhatsApp": _element(needs_text="a WhatsApp number", **STATUS),
    "Record": _element(
        action=URL,
        method=METHOD,
        timeout=Whole(0),
        finishOnKey=KEY_SET,
        maxLength=Whole(1),
        playBeep=BOOL,
        trim=TRIM,
        transcribe=BOOL,
        transcribeCallback=URL,
        **RECORDING,
    ),
    "Hangup": _element(),
    "Redirect": _element(needs_text="a URL", text_kind=URL, method=METHOD),
    "Reject": _element(reason=OneOf(("busy", "rejected"))),
    "Enqueue": _element(
        "Task TaskAttributes",
        text=True,
        action=URL,
        method=METHOD,
        waitUrl=URL,
        waitUrlMethod=METHOD,
        workflowSid=TEXT,
    ),  # fmt: skip
    "Task": _element(text=True, priority=Whole(0), timeout=Whole(0), workflowSid=TEXT),
    "TaskAttributes": _element(text=True),
    "Leave": _element(),
    "Refer": _element("Sip", action=URL, method=METHOD),
    "Connect": _element(
        "Stream Room VirtualAgent Conversation ConversationRelay", action=URL, method=METHOD
    ),  # fmt: skip
    "Start": _element("Stream Siprec Transcription", action=URL, method=METHOD),
    "Stop": _element("Stream Siprec Transcription"),
    "Stream": _element("Parameter", url=TEXT, name=TEXT, track=TEXT, **STATUS),
    "Siprec": _element("Parameter", name=TEXT, connectorName=TEXT, track=TEXT, **STATUS),
    "Transcription": _element(
        "Parameter", name=TEXT, track=TEXT, languageCode=TEXT, statusCallbackUrl=URL
    ),  # fmt: skip
    "Room": _element(needs_text="a room name", participantIdentity=TEXT),
    "VirtualAgent": _element(
        "Parameter Config", connectorName=TEXT, language=LANGUAGE, statusCallback=URL
    ),  # fmt: skip
    "Config": _element(name=TEXT, value=TEXT),
    "Conversation": _element(serviceInstanceSid=TEXT, **STATUS),
    "ConversationRelay": _element("Language Parameter", url=TEXT, language=LANGUAGE),
    "Language": _element(code=LANGUAGE, ttsProvider=TEXT, voice=TEXT),
    "Pay": _element(
        "Prompt Parameter",
        action=URL,
        method=METHOD,
        input=OneOf(("dtmf",)),
        timeout=Whole(0),
        maxAttempts=Whole(1),
        paymentConnector=TEXT,
        chargeAmount=TEXT,
        currency=TEXT,
        description=TEXT,
        language=LANGUAGE,
        tokenType=TEXT,
        validCardTypes=TEXT,
        postalCode=TEXT,
        securityCode=BOOL,
        statusCallback=URL,
        bankAccountType=TEXT,
        paymentMethod=TEXT,
        minPostalCodeLength=Whole(0),
    ),  # fmt: skip
    "Prompt": _element(
        "Say Play Pause", **{"for": TEXT, "attempt": TEXT, "errorType": TEXT, "cardType": TEXT}
    ),  # fmt: skip
}
# Say may hold SSML; its tags carry their own attributes, which Twilio passes on unread.
SSML_ELEMENT = Element(SSML, text=True)
