"""Parse TwiML answers for assertions: checker-checked, then read as verbs and texts."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ivr.sim.twiml_check import TwimlChecker, safe_parser


@dataclass(frozen=True)
class Twiml:
    """A parsed `<Response>` document."""

    root: etree._Element

    @property
    def verbs(self) -> list[str]:
        """The top-level verbs' tags, in order."""
        return [child.tag for child in self.root]

    @property
    def says(self) -> list[str]:
        """Every `<Say>` text in document order, those nested in `<Gather>` included."""
        return ["".join(say.itertext()) for say in self.root.iter("Say")]

    @property
    def gather(self) -> etree._Element | None:
        """The top-level `<Gather>`, if any."""
        return self.root.find("Gather")

    @property
    def gather_action(self) -> str | None:
        """Where the `<Gather>` posts its digits."""
        return None if self.gather is None else self.gather.get("action")

    @property
    def redirect(self) -> str | None:
        """The URL of the top-level `<Redirect>`, if any."""
        verb = self.root.find("Redirect")
        return None if verb is None else (verb.text or "").strip()


def parse_twiml(body: bytes | str, checker: TwimlChecker) -> Twiml:
    """Validate `body` against the TwiML checker and parse it."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    checker.validate(data)
    root = etree.fromstring(data, safe_parser())
    assert root.tag == "Response", f"root is <{root.tag}>, not <Response>"
    return Twiml(root)


def is_twiml(body: bytes) -> bool:
    """True when `body` is an XML document whose root is `<Response>`."""
    try:
        return etree.fromstring(body, safe_parser()).tag == "Response"
    except etree.XMLSyntaxError:
        return False
