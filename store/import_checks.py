"""The cross-record rules of an import, as joins of the staging tables with the tables on file.

Each check finds the first offending record (the lowest index in the file) in one query,
and names it exactly as the per-record checks did before.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from store.errors import ImportFileError
from store.id_numbers import mask_id
from store.import_tx import transaction_label

# Phase 1, before the persons are written: a card held by someone else, or no PIN for a
# newcomer. The card is tested first, as the per-record check did.
_PERSON_PROBLEM = text("""
SELECT s.idx, s.id_number, h.id_number
FROM import_persons s
LEFT JOIN persons h ON h.card_number = s.card_number AND h.id_number <> s.id_number
WHERE h.id IS NOT NULL
   OR (s.pin_hash IS NULL AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.id_number = s.id_number))
ORDER BY s.idx LIMIT 1
""")
# After the persons are written: every binding's persons are on file (from the file or not).
_BINDING_PROBLEM = text("""
SELECT s.idx, s.payer, s.beneficiary, s.payer_id, s.beneficiary_id,
       pa.scheme, pa.insured_region, be.insured_region
FROM import_bindings s
LEFT JOIN persons pa ON pa.id = s.payer_id
LEFT JOIN persons be ON be.id = s.beneficiary_id
WHERE s.payer_id IS NULL OR s.beneficiary_id IS NULL OR pa.scheme <> 'employee'
   OR substr(pa.insured_region, 1, 2) <> substr(be.insured_region, 1, 2)
ORDER BY s.idx LIMIT 1
""")
# The ranks once the file is applied: bindings on file that the file leaves alone (ranked
# first, index -1) and the file's bindings. In a clash, the file's later binding is at fault.
_RANK_PROBLEM = text("""
WITH final AS (
  SELECT b.beneficiary_id AS beneficiary_id, b.priority AS priority, -1 AS idx
  FROM bindings b
  WHERE b.status <> 'revoked'
    AND b.beneficiary_id IN (SELECT beneficiary_id FROM import_bindings)
    AND NOT EXISTS (SELECT 1 FROM import_bindings s
                    WHERE s.payer_id = b.payer_id AND s.beneficiary_id = b.beneficiary_id)
  UNION ALL
  SELECT beneficiary_id, priority, idx FROM import_bindings WHERE status <> 'revoked'
), ranked AS (
  SELECT idx, ROW_NUMBER() OVER (PARTITION BY beneficiary_id, priority ORDER BY idx) AS n
  FROM final
)
SELECT s.idx, s.payer, s.beneficiary, s.priority
FROM import_bindings s
WHERE s.idx = (SELECT min(idx) FROM ranked WHERE n > 1)
""")
# After everything is written: a person of the file must still fit every binding on file
# they are in. Of the two, the later record in the file is the one that broke it.
_MOVER = "CASE WHEN sb.idx IS NULL OR sa.idx > sb.idx THEN sa.idx ELSE sb.idx END"
_ON_FILE_PROBLEM = text(f"""
SELECT {_MOVER} AS mover, pa.id_number, be.id_number, pa.scheme, pa.insured_region,
       be.insured_region, CASE WHEN {_MOVER} = sa.idx THEN pa.id_number ELSE be.id_number END
FROM bindings b
JOIN persons pa ON pa.id = b.payer_id
JOIN persons be ON be.id = b.beneficiary_id
LEFT JOIN import_persons sa ON sa.id_number = pa.id_number
LEFT JOIN import_persons sb ON sb.id_number = be.id_number
WHERE b.status <> 'revoked' AND (sa.idx IS NOT NULL OR sb.idx IS NOT NULL)
  AND (pa.scheme <> 'employee'
       OR substr(pa.insured_region, 1, 2) <> substr(be.insured_region, 1, 2))
ORDER BY mover LIMIT 1
""")

# Transactions, after the bindings are written: a serial given twice for one holder (the
# later record is at fault), then one holder, beneficiary or covering binding missing.
_TX_TWICE = text("""
SELECT s.idx, s.id_number, s.ref,
       (SELECT min(e.idx) FROM import_transactions e
        WHERE e.id_number = s.id_number AND e.ref = s.ref)
FROM import_transactions s
WHERE EXISTS (SELECT 1 FROM import_transactions e
              WHERE e.id_number = s.id_number AND e.ref = s.ref AND e.idx < s.idx)
ORDER BY s.idx LIMIT 1
""")
# A family payment needs a binding of its holder (payer) and beneficiary that began on or
# before its date, whatever its status now: the binding as the file leaves it, or as it
# was on file before (a binding bound again later, with a new bound_on, keeps the payments
# made under its earlier term).
_TX_PROBLEM = text("""
SELECT s.idx, s.id_number, s.beneficiary, s.booked_on, h.id, b.id,
       (SELECT k.bound_on FROM bindings k WHERE k.payer_id = h.id AND k.beneficiary_id = b.id)
FROM import_transactions s
LEFT JOIN persons h ON h.id_number = s.id_number
LEFT JOIN persons b ON b.id_number = s.beneficiary
WHERE h.id IS NULL
   OR (s.beneficiary IS NOT NULL AND (b.id IS NULL OR (
         NOT EXISTS (SELECT 1 FROM bindings k WHERE k.payer_id = h.id
                     AND k.beneficiary_id = b.id AND k.bound_on <= s.booked_on)
         AND NOT EXISTS (SELECT 1 FROM import_bindings w WHERE w.payer_id = h.id
                         AND w.beneficiary_id = b.id AND w.was_bound_on <= s.booked_on))))
ORDER BY s.idx LIMIT 1
""")


def person_label(index: int, id_number: str) -> str:
    """How an error names a person record."""
    return f"persons[{index}] (ID {mask_id(id_number)})"


def binding_label(index: int, payer: str, beneficiary: str) -> str:
    """How an error names a binding record."""
    return f"bindings[{index}] ({mask_id(payer)} -> {mask_id(beneficiary)})"


def pair_problem(payer_scheme: str, payer_region: str, beneficiary_region: str) -> str:
    """Which rule between a payer and a beneficiary is broken (the query found one)."""
    if payer_scheme != "employee":
        return "payer: must be in the employee scheme (职工医保)"
    return (
        "both persons must be insured in the same province "
        f"(insured_region {payer_region} vs {beneficiary_region})"
    )


def check_persons(connection: Connection) -> None:
    """Each staged person's card is free (or theirs), and a newcomer has a PIN."""
    found = connection.execute(_PERSON_PROBLEM).first()
    if found is None:
        return
    index, id_number, holder = found
    label = person_label(index, id_number)
    if holder is not None:
        raise ImportFileError(
            f"{label}: card_number: already belongs to ID {mask_id(holder)} on file"
        )
    raise ImportFileError(f"{label}: pin: required for a person not yet on file")


def check_bindings(connection: Connection) -> None:
    """Each staged binding's persons exist, and the payer may pay for the beneficiary."""
    found = connection.execute(_BINDING_PROBLEM).first()
    if found is None:
        return
    index, payer, beneficiary, payer_id, beneficiary_id, scheme, region, other = found
    label = binding_label(index, payer, beneficiary)
    for role, number, known in (("payer", payer, payer_id), ("beneficiary", beneficiary,
                                                              beneficiary_id)):  # fmt: skip
        if known is None:
            why = f"no person {mask_id(number)} in the file or on file"
            raise ImportFileError(f"{label}: {role}: {why}")
    raise ImportFileError(f"{label}: {pair_problem(scheme, region, other)}")


def check_ranks(connection: Connection) -> None:
    """A payer's rank is unique per beneficiary among bindings not revoked."""
    found = connection.execute(_RANK_PROBLEM).first()
    if found is not None:
        index, payer, beneficiary, priority = found
        raise ImportFileError(
            f"{binding_label(index, payer, beneficiary)}: priority: rank {priority} is already "
            "taken for this beneficiary by another binding that is not revoked"
        )


def check_bindings_on_file(connection: Connection) -> None:
    """A changed person must still meet the rules of every binding they are in."""
    found = connection.execute(_ON_FILE_PROBLEM).first()
    if found is not None:
        index, payer, beneficiary, scheme, region, other, mover = found
        pair = f"{mask_id(payer)} -> {mask_id(beneficiary)}"
        raise ImportFileError(
            f"{person_label(index, mover)}: breaks the binding {pair} on file: "
            f"{pair_problem(scheme, region, other)}"
        )


def check_transactions(connection: Connection) -> None:
    """Each serial once per holder; the holder, the beneficiary and the binding exist."""
    found = connection.execute(_TX_TWICE).first()
    if found is not None:
        index, holder, ref, first = found
        raise ImportFileError(f"{transaction_label(index, holder)}: ref: {ref} appears twice"
                              f" for this holder (first in transactions[{first}])")  # fmt: skip
    found = connection.execute(_TX_PROBLEM).first()
    if found is None:
        return
    index, holder, beneficiary, booked_on, holder_id, beneficiary_id, bound_on = found
    label = transaction_label(index, holder)
    for key, number, known in (("id_number", holder, holder_id),
                               ("beneficiary", beneficiary, beneficiary_id)):  # fmt: skip
        if known is None:
            raise ImportFileError(f"{label}: {key}: no person {mask_id(number)} in the file "
                                  "or on file")  # fmt: skip
    pair = f"{mask_id(holder)} -> {mask_id(beneficiary)}"
    if bound_on is None:
        raise ImportFileError(f"{label}: beneficiary: no 家庭共济 binding {pair} in the file "
                              "or on file")  # fmt: skip
    raise ImportFileError(f"{label}: date: {booked_on} is before the binding {pair} began "
                          f"(bound_on {bound_on})")  # fmt: skip
