"""The project's TwiML checker over the corpus: each invalid document is refused for its one
rule, with a message that names the element's path and the rule; each valid one passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid, problems_of
from ivr.sim.twiml_rules import ELEMENTS
from tests.sim.twiml_corpus import INVALID, VALID, Invalid, Valid

DOC = Path(__file__).resolve().parents[2] / "docs" / "twiml.md"

# A problem line: the element's path (Response/Gather[1]/Say[1], or a root's name), then the rule.
PROBLEM = re.compile(r"(?P<path>[A-Za-z]+(?:/[A-Za-z-]+\[\d+\])*): (?P<rule>\S.*)")
MIN_RULES = 30


@pytest.mark.parametrize("entry", INVALID, ids=lambda e: e.id)
def test_each_corpus_document_is_refused_for_its_rule(entry: Invalid) -> None:
    """One problem, the expected one; validate() raises with the same problems."""
    found = problems_of(entry.twiml)
    assert len(found) == 1 and entry.matches(found[0]), (entry.expected, found)
    with pytest.raises(TwimlInvalid) as raised:
        TwimlChecker().validate(entry.twiml)
    assert raised.value.problems == found
    assert str(raised.value).endswith(f"--- document ---\n{entry.twiml}")


@pytest.mark.parametrize("entry", [e for e in INVALID if e.exact], ids=lambda e: e.id)
def test_each_message_names_a_real_element_and_the_rule(entry: Invalid) -> None:
    """The path before the colon finds exactly the offending element in the document."""
    match = PROBLEM.fullmatch(entry.expected)
    assert match, entry.expected
    root = etree.fromstring(entry.twiml.encode())
    elements = root.xpath("/" + match["path"])
    assert len(elements) == 1, (match["path"], entry.twiml)
    named = {elements[0].tag, *elements[0].attrib, *(child.tag for child in elements[0])}
    # The rule mentions the element, one of its attributes, a child, or the text it lacks.
    assert any(name in match["rule"] for name in named), entry.expected


def test_the_corpus_covers_enough_distinct_rules() -> None:
    """At least MIN_RULES rules, each with an id of its own and a message of its own."""
    ids = {entry.id for entry in INVALID}
    messages = {entry.expected for entry in INVALID}
    assert len(ids) == len(INVALID) >= MIN_RULES
    assert len(messages) == len(INVALID)


@pytest.mark.parametrize("entry", VALID, ids=lambda e: e.id)
def test_valid_documents_pass(entry: Valid) -> None:
    """What the hotline renders and what Twilio documents: no problem at all."""
    assert problems_of(entry.twiml) == []
    TwimlChecker().validate(entry.twiml)


def test_every_problem_of_a_document_is_listed_in_order() -> None:
    """Several broken rules: one line each, in document order, none hiding another."""
    twiml = ('<Response>hello<Gather numDigits="0"><Dial/></Gather>'
             '<Say volume="9">hi</Say></Response>')  # fmt: skip
    assert problems_of(twiml) == [
        "Response: text is not allowed inside <Response>",
        'Response/Gather[1]: numDigits="0" must be a whole number ≥ 1',
        "Response/Gather[1]: <Dial> is not allowed inside <Gather>",
        "Response/Say[1]: <Say> has no attribute volume",
    ]


@pytest.mark.parametrize(("twiml", "problem"), [
    ('<Response><Say>a</Say><Say>b<Play>/x.wav</Play></Say></Response>',
     "Response/Say[2]: <Play> is not allowed inside <Say>"),
    ('<Response><Say><p><Pause/></p></Say></Response>',
     "Response/Say[1]/p[1]: <Pause> is not allowed inside <p>"),
    ('<Response><Dial><Number>1</Number><Number sendDigits="x">2</Number></Dial></Response>',
     'Response/Dial[1]/Number[2]: sendDigits="x" must be keys to send (0-9, #, * and w for a '
     "pause)"),
])  # fmt: skip
def test_paths_count_siblings_of_the_same_name(twiml: str, problem: str) -> None:
    """The second <Say> is Say[2]; SSML inside <Say> has a path too."""
    assert problems_of(twiml) == [problem]


def test_a_valid_document_is_remembered_and_an_invalid_one_never() -> None:
    """validate() keeps valid documents (answers repeat), and refuses an invalid one each time."""
    checker = TwimlChecker()
    checker.validate(VALID[0].twiml)
    assert checker.valid == {VALID[0].twiml.encode()}
    unknown = next(entry for entry in INVALID if entry.id == "unknown-verb")
    for _ in range(2):
        with pytest.raises(TwimlInvalid):
            checker.validate(unknown.twiml)
    assert len(checker.valid) == 1


def test_the_docs_list_every_element_and_every_rule_the_schema_lets_through() -> None:
    """docs/twiml.md keeps up: its element table and its table of stricter rules."""
    text = DOC.read_text(encoding="utf-8")
    assert [name for name in ELEMENTS if f"`{name}`" not in text] == []
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(entry.id for entry in INVALID if not entry.xsd_rejects)
