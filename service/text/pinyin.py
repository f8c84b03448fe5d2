"""Names in the order a Chinese reader looks for them: by pinyin (Hanyu Pinyin, the order of a
Chinese dictionary's index), not by code point (何 冯 刘 吴 … by code point; 冯 何 刘 吴 by pinyin).

Place in the flow: a pure helper of the archive view's people list (``store.browse``); strings in,
sort keys out, no I/O. The readings come from ``pypinyin`` (its phrase dictionary picks the reading
of a character in context); the first character of a name is read as a surname where the common
reading differs (曾 zēng, not céng), from the short table below.
"""

from __future__ import annotations

import functools

from pypinyin import Style, lazy_pinyin

#: surnames whose reading differs from the character's most common one (the first character only)
SURNAME_READINGS = {
    "曾": "zeng1",
    "单": "shan4",
    "仇": "qiu2",
    "解": "xie4",
    "区": "ou1",
    "朴": "piao2",
    "查": "zha1",
    "盖": "ge3",
    "乐": "yue4",
    "缪": "miao4",
    "翟": "zhai2",
    "覃": "qin2",
    "召": "shao4",
    "华": "hua4",
    "任": "ren2",
    "种": "chong2",
    "员": "yun4",
}

#: how many names' keys are remembered (people are never renamed, so a key never goes stale)
KEY_CACHE = 200_000


def syllables(name: str) -> list[str]:
    """The pinyin of ``name``, one numbered syllable (``zhang1``) per Han character, other runs
    (Latin letters, digits) lower-cased as they are; spaces and punctuation dropped."""
    out = lazy_pinyin(name, style=Style.TONE3, neutral_tone_with_five=True)
    if name and name[0] in SURNAME_READINGS and out:
        out[0] = SURNAME_READINGS[name[0]]
    return [s.strip().lower() for s in out if s.strip() and any(ch.isalnum() for ch in s)]


@functools.lru_cache(maxsize=KEY_CACHE)
def sort_key(name: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """A key that sorts names by pinyin: syllables without tones first (so zhang comes before zhao
    whatever the tones), then with tones, then the name itself (homophones keep a fixed order)."""
    numbered = syllables(name)
    plain = tuple(s.rstrip("012345") for s in numbered)
    return plain, tuple(numbered), name


def spelled(name: str) -> str:
    """The name in toneless pinyin without spaces (``zhangsan``): what a Latin-letter query of the
    people list is matched against."""
    return "".join(sort_key(name)[0])


def initials(name: str) -> str:
    """The first letter of each syllable (``zs`` for 张三): the other thing a person types."""
    return "".join(s[0] for s in sort_key(name)[0] if s)


__all__ = ["SURNAME_READINGS", "initials", "sort_key", "spelled", "syllables"]
