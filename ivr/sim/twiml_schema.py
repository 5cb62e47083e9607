"""Validate TwiML documents against Twilio's own XML Schema, read from outside the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

# The schema stays in the shared folder next to the project (it is not ours to copy).
DEFAULT_RELATIVE_PATH = Path("..") / "shared" / "twiml" / "twiml-relaxed.xsd"
# How many distinct valid documents a schema remembers (a menu answers a few hundred).
KNOWN_VALID = 4096


class TwimlInvalid(ValueError):
    """A document is not well-formed TwiML; the message lists the errors and the document."""


def _safe_parser() -> etree.XMLParser:
    """Return a parser that never fetches or expands anything a document points at."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class TwimlSchema:
    """A loaded TwiML XSD that can check whole `<Response>` documents."""

    path: Path
    xsd: etree.XMLSchema
    # Documents already found valid: the same bytes always get the same verdict, and most
    # answers repeat from call to call, so each distinct document is checked once.
    valid: set[bytes] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> TwimlSchema:
        """Parse the XSD at `path`."""
        path = Path(path)
        return cls(path=path, xsd=etree.XMLSchema(etree.parse(str(path), _safe_parser())))

    @classmethod
    def find_default(cls) -> TwimlSchema | None:
        """Load the shared schema next to the project root, or None when it is absent."""
        return find_default()

    def validate(self, xml: bytes | str) -> None:
        """Raise TwimlInvalid unless `xml` is a well-formed document the schema accepts."""
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        if data in self.valid:
            return
        self._check(data)
        if len(self.valid) >= KNOWN_VALID:  # answers that differ per call: start over
            self.valid.clear()
        self.valid.add(data)

    def _check(self, data: bytes) -> None:
        """Parse and validate one document; raise TwimlInvalid with its errors."""
        text = data.decode("utf-8", errors="replace")
        try:
            document = etree.fromstring(data, _safe_parser())
        except etree.XMLSyntaxError as exc:
            raise TwimlInvalid(
                f"TwiML is not well-formed XML: {exc}\n--- document ---\n{text}"
            ) from exc
        if not self.xsd.validate(document):
            errors = "\n".join(
                f"line {error.line}: {error.message}" for error in self.xsd.error_log
            )
            raise TwimlInvalid(f"TwiML fails {self.path.name}:\n{errors}\n--- document ---\n{text}")


def default_path() -> Path:
    """Where the shared schema lives: `../shared/twiml/` relative to the project root."""
    project_root = Path(__file__).resolve().parents[2]
    return (project_root / DEFAULT_RELATIVE_PATH).resolve()


def find_default() -> TwimlSchema | None:
    """Load the shared schema, or return None when this checkout has no shared folder."""
    path = default_path()
    return TwimlSchema.load(path) if path.is_file() else None
