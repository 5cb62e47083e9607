"""Twilio's own XML Schema for TwiML, as a second opinion on the project's checker.

The schema is not the project's to copy: it is read from `../shared/twiml/` beside the
project root, where CI keeps it. Without that folder the cross-check is not collected; the
project's own checker (ivr.sim.twiml_check) checks every answer either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid, problems_of, safe_parser

ROOT = Path(__file__).resolve().parents[1]
XSD_PATH = (ROOT / ".." / "shared" / "twiml" / "twiml-relaxed.xsd").resolve()


@dataclass(frozen=True)
class TwimlSchema:
    """A loaded TwiML XSD."""

    xsd: etree.XMLSchema

    @classmethod
    def load(cls, path: Path = XSD_PATH) -> TwimlSchema | None:
        """The schema at `path`, or None when this checkout has none beside it."""
        if not path.is_file():
            return None
        return cls(etree.XMLSchema(etree.parse(str(path), safe_parser())))

    def errors(self, data: bytes | str) -> list[str]:
        """The schema's complaints about one document ([] when it accepts it)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        try:
            document = etree.fromstring(raw, safe_parser())
        except etree.XMLSyntaxError as exc:
            return [f"not well-formed XML: {exc}"]
        if self.xsd.validate(document):
            return []
        return [f"line {error.line}: {error.message}" for error in self.xsd.error_log]


class Disagreement(AssertionError):
    """The project's checker and Twilio's schema judged one document differently."""


@dataclass
class CrossChecker(TwimlChecker):
    """The project's checker, with Twilio's schema asked too: a verdict they do not share
    fails the test that produced the document."""

    schema: TwimlSchema | None = None

    def validate(self, xml: bytes | str) -> None:
        """Judge with both; raise Disagreement when they differ, TwimlInvalid when both refuse."""
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        if data in self.valid or self.schema is None:
            super().validate(data)
            return
        ours, theirs = problems_of(data), self.schema.errors(data)
        if bool(ours) != bool(theirs):
            raise Disagreement(
                f"the checkers disagree\n  ours: {ours or 'valid'}\n  Twilio's schema: "
                f"{theirs or 'valid'}\n--- document ---\n{data.decode('utf-8', 'replace')}"
            )
        if ours:
            raise TwimlInvalid(ours, data.decode("utf-8", errors="replace"))
        super().validate(data)
