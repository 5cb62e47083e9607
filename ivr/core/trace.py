"""The engine's trace on the wire: the X-IVR-Trace header of a webhook answer.

The hotline tells, with each answer, what the engine did in making it, over every step of
the request (an effect such as a PIN check steps the engine again): the nodes the call
reached (`Reached`) and the paths it took out of nodes (`Took`), in order. The header is
one line of items separated by ", ":

    node        the call reached this node
    node:path   the call took this path out of node, named as ivr.core.edges names it:
                "key 2 -> medical", "say -> balance", "next", "input", "identity gate", "timeout",
                "invalid key", "no-input limit", "invalid limit"

Each name is form-encoded (a space is "+"; ",", ":", "+", "%" and anything beyond printable
ASCII are %XX; "*", "#", ">" and "-" stay as they are), so a name never reads as a
separator, e.g. `X-IVR-Trace: main:key+2+->+medical, medical:identity+gate, ask_id`.
An answer that moved no call (a stale request answered from where the call is) sends the
header empty. It holds menu names only, never what a caller keyed.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote_plus, unquote_plus

from ivr.core.events import Reached, Took, Trace

TRACE_HEADER = "X-IVR-Trace"
_KEPT = "*#>-"  # readable as they are, and never a separator


def encode(actions: Iterable[object]) -> str:
    """The header's value for a request's actions: its Reached and Took, in order."""
    items = []
    for action in actions:
        match action:
            case Reached(node=node):
                items.append(_name(node))
            case Took(node=node, path=path):
                items.append(f"{_name(node)}:{_name(path)}")
    return ", ".join(items)


def decode(value: str) -> tuple[Trace, ...]:
    """The trace a header's value tells (an empty value: nothing)."""
    found: list[Trace] = []
    for item in value.split(","):
        item = item.strip()  # spaces inside names are "+", so only separators are stripped
        if not item:
            continue
        node, colon, path = item.partition(":")
        if colon:
            found.append(Took(unquote_plus(node), unquote_plus(path)))
        else:
            found.append(Reached(unquote_plus(node)))
    return tuple(found)


def _name(name: str) -> str:
    """A node or path name, form-encoded."""
    return quote_plus(name, safe=_KEPT)
