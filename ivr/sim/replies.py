"""What Twilio accepts as a webhook's answer: 200, XML, valid TwiML, a <Response> root."""

from __future__ import annotations

from lxml import etree

from ivr.sim.transport import Reply, WebhookError
from ivr.sim.twiml_check import TwimlChecker

XML_CONTENT_TYPES = frozenset({"text/xml", "application/xml"})


def check_reply(url: str, reply: Reply, checker: TwimlChecker) -> etree._Element:
    """Reject what Twilio would reject: errors, non-XML, invalid TwiML, a foreign root."""

    def refuse(problem: str) -> WebhookError:
        """Build the error with the reply attached."""
        return WebhookError(f"{url} answered {problem}", status=reply.status, body=reply.body)

    if reply.status != 200:
        raise refuse(f"HTTP {reply.status}")
    if reply.content_type.split(";")[0].strip().lower() not in XML_CONTENT_TYPES:
        raise refuse(f"Content-Type {reply.content_type!r}, not XML")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(reply.body, parser)
    except etree.XMLSyntaxError as exc:
        raise refuse(f"malformed XML: {exc}") from exc
    if root.tag != "Response":
        raise refuse(f"<{root.tag}>, not <Response>")
    checker.validate(reply.body)  # then each element, as Twilio's parser would
    return root
