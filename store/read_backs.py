"""Read-backs waiting to be fetched: what one call is told, kept until it ends or expires.

Finding and dropping them is the webhook's (store/repo.py); this module adds them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.models import CallAudio


def add_read_back(session: Session, token: str, call_sid: str, seq: int, lang: str, text: str,
                  expires_at: int) -> None:  # fmt: skip
    """Keep a read-back of the call's step `seq` under its secret `token` until `expires_at`.

    It is added to the request's session, so it is written with the step, or not at all.
    """
    session.add(CallAudio(token=token, call_sid=call_sid, seq=seq, lang=lang, text=text,
                          expires_at=expires_at))  # fmt: skip
