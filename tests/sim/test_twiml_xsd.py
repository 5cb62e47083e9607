"""Twilio's relaxed 2016 schema against the corpus: where it and the project's checker part,
the corpus says so and why, and nowhere else.

Needs ../shared/twiml beside the project (CI has it); without it these are not collected.
"""

from __future__ import annotations

import pytest

from ivr.sim.twiml_check import problems_of
from tests.sim.twiml_corpus import INVALID, VALID, Invalid, Valid
from tests.twiml_xsd import XSD_PATH, TwimlSchema

pytestmark = pytest.mark.twilio_xsd


@pytest.fixture(scope="module")
def schema() -> TwimlSchema:
    """Twilio's schema, read from ../shared/twiml."""
    loaded = TwimlSchema.load()
    if loaded is None:  # collected without it only under CI, which must have it
        pytest.fail(f"Twilio's TwiML schema is missing: {XSD_PATH}", pytrace=False)
    return loaded


@pytest.mark.parametrize("entry", INVALID, ids=lambda e: e.id)
def test_the_schema_rejects_exactly_the_entries_marked_so(
    schema: TwimlSchema, entry: Invalid
) -> None:
    """`xsd: rejects` entries are refused by both; `xsd: accepts` only by ours, as documented."""
    errors = schema.errors(entry.twiml)
    assert bool(errors) == entry.xsd_rejects, (entry.why, errors)


@pytest.mark.parametrize("entry", VALID, ids=lambda e: e.id)
def test_valid_documents_are_judged_as_the_table_says(schema: TwimlSchema, entry: Valid) -> None:
    """Both accept them, except where the table says the 2016 schema does not know them."""
    assert problems_of(entry.twiml) == []
    errors = schema.errors(entry.twiml)
    assert bool(errors) == entry.xsd_rejects, (entry.why, errors)


def test_every_disagreement_has_a_reason_and_both_kinds_are_kept() -> None:
    """The corpus holds rules the schema shares and rules only Twilio's docs state."""
    accepted = [e for e in INVALID if not e.xsd_rejects]
    assert accepted and len(accepted) < len(INVALID)
    assert all(e.why.strip() for e in accepted)
    assert all(v.why.strip() for v in VALID if v.xsd_rejects)
