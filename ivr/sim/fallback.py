"""Twilio's fallback request: after a webhook fails, the number's fallback URL is asked.

Twilio posts there (its default method) the failed request's own fields, plus the error
it met (`ErrorCode`) and the URL that failed (`ErrorUrl`), and carries on with that answer.
A <Play> whose audio cannot be fetched fails its document too: the fallback's answer then
takes the place of the rest of it.
"""

from __future__ import annotations

from ivr.sim.replies import XML_CONTENT_TYPES
from ivr.sim.transport import Reply

# Twilio's error codes (its debugger's numbers) for what a webhook did wrong.
CONNECTION_FAILED = "11205"  # no connection, a timeout, a connection cut mid-answer
HTTP_FAILED = "11200"  # an answer, but not 200 OK
BAD_CONTENT_TYPE = "12300"  # 200, but not XML
PARSE_FAILED = "12100"  # 200 and XML, but not TwiML Twilio can run
PLAY_NOT_AUDIO = "13420"  # a <Play> URL answered 200, but not audio


def error_code(reply: Reply | None) -> str:
    """The error code Twilio reports for a failed request; `reply` None: no answer came."""
    if reply is None:
        return CONNECTION_FAILED
    if reply.status != 200:
        return HTTP_FAILED
    if reply.content_type.split(";")[0].strip().lower() not in XML_CONTENT_TYPES:
        return BAD_CONTENT_TYPE
    return PARSE_FAILED


def play_error_code(reply: Reply | None) -> str:
    """The error code Twilio reports for a <Play> whose audio it could not fetch."""
    if reply is None:
        return CONNECTION_FAILED
    return HTTP_FAILED if reply.status != 200 else PLAY_NOT_AUDIO


def fallback_form(form: dict[str, str], reply: Reply | None, failed_url: str) -> dict[str, str]:
    """The fallback request's form: the failed request's, and what went wrong where."""
    return {**form, "ErrorCode": error_code(reply), "ErrorUrl": failed_url}
