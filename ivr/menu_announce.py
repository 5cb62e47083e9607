"""Does a prompt announce a key? "请按三", "按星号键", "press three", "press the pound key"."""

from __future__ import annotations

import re

from ivr.menu import Key

# How each key is said after 按 (Mandarin) or "press" (English): words, or the key itself.
_ZH = {
    "1": "一|幺|1", "2": "二|两|2", "3": "三|3", "4": "四|4", "5": "五|5", "6": "六|6",
    "7": "七|7", "8": "八|8", "9": "九|9", "0": "零|0",
    "*": r"星号|星键|米字|\*", "#": "井号|井字|#",
}  # fmt: skip
_EN = {
    "1": "one|1", "2": "two|2", "3": "three|3", "4": "four|4", "5": "five|5", "6": "six|6",
    "7": "seven|7", "8": "eight|8", "9": "nine|9", "0": "zero|oh|0",
    "*": r"star|asterisk|\*", "#": "pound|hash|hash key|#",
}  # fmt: skip
_PATTERNS = {
    key: (
        re.compile(rf"按\s*(?:键\s*)?(?:{_ZH[key]})"),
        re.compile(rf"\bpress(?:\s+the)?\s+(?:{_EN[key]})(?![a-z])", re.IGNORECASE),
    )
    for key in _ZH
}
_SAY = {
    "zh": {"*": "按星号键", "#": "按井号键", **{k: f"按{v.split('|')[0]}" for k, v in _ZH.items()
                                          if k.isdigit()}},
    "en": {"*": "press the star key", "#": "press the pound key",
           **{k: f"press {v.split('|')[0]}" for k, v in _EN.items() if k.isdigit()}},
}  # fmt: skip


def announces(text: str, key: Key) -> bool:
    """True when the text tells the caller to press `key`, in Mandarin or in English."""
    return any(pattern.search(text) for pattern in _PATTERNS[key.value])


def spoken_key(key: Key, code: str) -> str:
    """How a prompt in language `code` would announce the key, quoted for a hint."""
    said = _SAY.get(code.split("-")[0], _SAY["en"])[key.value]
    return f'"{said}"'
