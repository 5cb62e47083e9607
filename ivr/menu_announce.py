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
# What follows 按 or "press", up to the end of its clause: "按一或二", "press one or two".
_ZH_PHRASE = re.compile(r"按([^。；;！!？?，,]*)")
_EN_PHRASE = re.compile(r"\bpress\b([^.;:!?]*)", re.IGNORECASE)
_ZH_WORDS = {key: re.compile(forms) for key, forms in _ZH.items()}
_EN_WORDS = {key: re.compile(rf"(?<![a-z0-9])(?:{forms})(?![a-z0-9])", re.IGNORECASE)
             for key, forms in _EN.items()}  # fmt: skip
_SAY = {
    "zh": {"*": "按星号键", "#": "按井号键", **{k: f"按{v.split('|')[0]}" for k, v in _ZH.items()
                                          if k.isdigit()}},
    "en": {"*": "press the star key", "#": "press the pound key",
           **{k: f"press {v.split('|')[0]}" for k, v in _EN.items() if k.isdigit()}},
}  # fmt: skip


def announces(text: str, key: Key) -> bool:
    """True when the text tells the caller to press `key`, in Mandarin or in English."""
    # "按一下" is "press once", not "press one".
    zh = (phrase.replace("一下", "") for phrase in _ZH_PHRASE.findall(text))
    if any(_ZH_WORDS[key.value].search(phrase) for phrase in zh):
        return True
    return any(_EN_WORDS[key.value].search(phrase) for phrase in _EN_PHRASE.findall(text))


def spoken_key(key: Key, code: str) -> str:
    """How a prompt in language `code` would announce the key, quoted for a hint."""
    said = _SAY.get(code.split("-")[0], _SAY["en"])[key.value]
    return f'"{said}"'
