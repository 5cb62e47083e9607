"""Does a prompt announce a key? "请按三", "按星号键", "press three", "press the pound key"."""

from __future__ import annotations

import re

from ivr.core.model import Key

# How each key is said after 按 (Mandarin) or "press" (English): words, or the key itself.
_ZH = {
    "1": "一|幺|1", "2": "二|两|2", "3": "三|3", "4": "四|4", "5": "五|5", "6": "六|6",
    "7": "七|7", "8": "八|8", "9": "九|9", "0": "零|0",
    "*": r"星号|星键|米字|\*|＊", "#": "井号|井字|#|＃",
}  # fmt: skip
_EN = {
    "1": "one|1", "2": "two|2", "3": "three|3", "4": "four|4", "5": "five|5", "6": "six|6",
    "7": "seven|7", "8": "eight|8", "9": "nine|9", "0": "zero|oh|0",
    "*": r"star|asterisk|\*", "#": "pound|hash|hash key|#",
}  # fmt: skip
# The keys said after 按 / 拨 (not 按照, 按时): a run of key words and 或/和/、 ("按一或二").
_ZH_RUN = re.compile(
    r"[按拨](?![照时])\s*(?:数字)?\s*([一幺二两三四五六七八九零0-9#*＃＊星号井字米键或者和、及\s]+)"
)
# What follows "press" / "dial" / "select", to the end of its clause ("press one or two").
_EN_PHRASE = re.compile(r"\b(?:press|dial|select)\b([^.;:!?]*)", re.IGNORECASE)
_ZH_WORDS = {key: re.compile(rf"(?<![0-9])(?:{forms})(?![0-9])") for key, forms in _ZH.items()}
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
    zh = _ZH_RUN.findall(text.replace("一下", ""))
    if any(_ZH_WORDS[key.value].search(run) for run in zh):
        return True
    return any(_EN_WORDS[key.value].search(phrase) for phrase in _EN_PHRASE.findall(text))


def spoken_key(key: Key, code: str) -> str:
    """How a prompt in language `code` would announce the key, quoted for a hint."""
    said = _SAY.get(code.split("-")[0], _SAY["en"])[key.value]
    return f'"{said}"'
