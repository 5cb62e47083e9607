"""The project's own TwiML checker: what Twilio accepts as a voice document, and why not.

Every problem is one line with the element's path and the rule broken, for example
`Response/Gather[1]/Say[1]: <Play> is not allowed inside <Say>`. The rules are the table
in ivr.sim.twiml_rules; nothing outside the project is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ivr.sim.twiml_rules import ELEMENTS, MESSAGING, ROOT, SSML, SSML_ELEMENT, Element

# How many distinct valid documents a checker remembers (a menu answers a few hundred).
KNOWN_VALID = 4096


class TwimlInvalid(ValueError):
    """A document is not TwiML Twilio accepts; the message lists each problem, then the
    document."""

    def __init__(self, problems: list[str], document: str) -> None:
        """Keep the problems (one line each) beside the message."""
        super().__init__("\n".join(problems) + f"\n--- document ---\n{document}")
        self.problems = problems


def safe_parser() -> etree.XMLParser:
    """A parser that never fetches or expands anything a document points at."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def problems_of(data: bytes | str) -> list[str]:
    """Every problem of one document, in document order ([] when Twilio would accept it)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        root = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != ROOT:
        return [f"{_name(root)}: the document's root must be <{ROOT}>, not <{_name(root)}>"]
    found: list[str] = []
    _check(root, ROOT, ELEMENTS[ROOT], found)
    return found


def _check(node: etree._Element, path: str, rules: Element, found: list[str]) -> None:
    """Check one element's text, attributes and children, then each child in turn."""
    _check_text(node, path, rules, found)
    # SSML's attributes are the speech engine's to read.
    attributes = {} if rules is SSML_ELEMENT else node.attrib
    for name, value in attributes.items():
        kind = rules.attributes.get(str(name))
        if kind is None:
            found.append(f"{path}: <{node.tag}> has no attribute {name}")
        elif (why := kind.problem(value)) is not None:
            found.append(f'{path}: {name}="{value}" {why}')
    seen: dict[str, int] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        name = _name(child)
        seen[name] = seen.get(name, 0) + 1
        here = f"{path}/{name}[{seen[name]}]"
        child_rules = (
            SSML_ELEMENT if name in SSML and rules.children >= SSML else ELEMENTS.get(name)
        )
        if child_rules is None:
            found.append(f"{path}: {_foreign(name)}")
        elif name not in rules.children:
            found.append(f"{path}: <{name}> is not allowed inside <{node.tag}>")
        else:
            _check(child, here, child_rules, found)


def _foreign(name: str) -> str:
    """Why an element that voice TwiML has no place for is refused, naming what it is."""
    if name in SSML:  # SSML is read only inside <Say>: elsewhere say so, not "unknown"
        return f"<{name}> is SSML, allowed only inside <Say>"
    if name in MESSAGING:
        return f"<{name}> is messaging TwiML, not a voice verb"
    return f"<{name}> is not a TwiML element"


def _check_text(node: etree._Element, path: str, rules: Element, found: list[str]) -> None:
    """Text where none may be, or none where some must be."""
    text = "".join(
        [node.text or "", *(child.tail or "" for child in node)]
    ).strip()  # fmt: skip
    if text and not rules.text:
        found.append(f"{path}: text is not allowed inside <{node.tag}>")
    elif rules.needs_text and not text and not len(node):
        found.append(f"{path}: <{node.tag}> needs {rules.needs_text}")
    elif text and (why := rules.text_kind.problem(text)) is not None:
        found.append(f"{path}: the text of <{node.tag}> {why}")


def _name(node: etree._Element) -> str:
    """An element's name as TwiML spells it (a namespaced one keeps its namespace)."""
    return str(node.tag)


@dataclass
class TwimlChecker:
    """Checks whole documents, remembering the ones it found valid (answers repeat)."""

    valid: set[bytes] = field(default_factory=set, repr=False)

    def validate(self, xml: bytes | str) -> None:
        """Raise TwimlInvalid unless Twilio would accept the document."""
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        if data in self.valid:
            return
        found = problems_of(data)
        if found:
            raise TwimlInvalid(found, data.decode("utf-8", errors="replace"))
        if len(self.valid) >= KNOWN_VALID:  # answers that differ per call: start over
            self.valid.clear()
        self.valid.add(data)
