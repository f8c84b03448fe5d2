"""Normalisation of Chinese text: whitespace, mirror pinyin, Traditional → Simplified, hashing form.

Pure string functions, used by the extractor (display text) and by deduplication (``hash_text``).
Mirror sites republish articles in Traditional characters with pinyin after them
(``鎮(zhèn)江``); ``to_display`` and ``hash_text`` bring such text back to the original so that its
credits parse and it deduplicates against the original (docs/site.md, "Mirrors").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# The zero-width characters a CMS or a copy-paste leaves in Chinese text are removed, not turned into
# spaces; every other space-like character (NBSP, ideographic space, the en/em/thin family) is a space.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ"
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A pinyin annotation right after a Chinese character: 鎮(zhèn) or 鎮（zhèn）. Letters only, so that
# ordinary parentheses in the text (党(工)委, 记者(实习)) are never touched.
_PINYIN = re.compile(rf"(?<=[{_CJK}])[(（]([a-z{_TONED}]{{1,7}})[)）]")
#: Below this many toned annotations, toneless ones ("(de)") are left alone: they could be real text.
PINYIN_MIN_TONED = 3

#: Share of Chinese characters that OpenCC t2s changes above which a text is taken as Traditional.
TRADITIONAL_MIN_SHARE = 0.04
#: ...and the least number of changed characters (a short Simplified text may contain one variant).
TRADITIONAL_MIN_CHARS = 3

_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


#: str.translate table deleting the zero-width characters
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, _ZERO_WIDTH))


def clean_spaces(text: str) -> str:
    """Zero-width characters removed, every run of space-like characters one ASCII space, trimmed.

    ``str.split()`` splits on every Unicode space (NBSP, ideographic, en/em …): 3× the speed of the
    regular expressions, and this runs for every text node of a page."""
    return " ".join(text.translate(_ZERO_WIDTH_TABLE).split())


def strip_pinyin(text: str) -> str:
    """Remove mirror-site pinyin annotations after Chinese characters; leave ordinary parentheses."""
    if "(" not in text and "（" not in text:
        return text
    matches = _PINYIN.findall(text)
    if not matches:
        return text
    toned = sum(1 for m in matches if any(c in _TONED for c in m))
    if toned >= PINYIN_MIN_TONED:
        return _PINYIN.sub("", text)
    return _PINYIN.sub(lambda m: "" if any(c in _TONED for c in m.group(1)) else m.group(0), text)


def to_simplified(text: str) -> str:
    """OpenCC Traditional → Simplified (phrase-aware)."""
    return str(_t2s().convert(text))


def cjk_count(text: str) -> int:
    return len(re.findall(f"[{_CJK}]", text))


#: characters common in Traditional text that Simplified text never uses: a text with none of them
#: is not Traditional, and the OpenCC pass (the costly part) is skipped
_TRADITIONAL_HINTS = re.compile(
    "[這們個來為說時會過對學國發經與將還進開關從現無點動後長種問題實總條機義區當體業報網電記讀鎮產項"
    "價麼時間門見樣應該認識話讓變員議務場線頭資際設計車書運處導術連級歷師話觀驗權黨議則聯試調據"
    "東視幾華億廣專萬邊軍農鄉縣藝術體極統團層結構單確樓]"
)


def is_traditional(text: str) -> bool:
    """True when enough of the Chinese characters change under t2s to call the text Traditional."""
    if not _TRADITIONAL_HINTS.search(text):
        return False
    n = cjk_count(text)
    if n == 0:
        return False
    simplified = to_simplified(text)
    changed = sum(1 for a, b in zip(text, simplified, strict=False) if a != b)
    return changed >= TRADITIONAL_MIN_CHARS and changed / n >= TRADITIONAL_MIN_SHARE


def to_display(text: str, *, traditional: bool | None = None) -> str:
    """Display form: pinyin annotations stripped, Simplified when the text is Traditional, spaces cleaned.

    ``traditional`` lets a caller decide once for a whole page rather than per paragraph.
    """
    text = strip_pinyin(text)
    if traditional is None:
        traditional = is_traditional(text)
    if traditional:
        text = to_simplified(text)
    return clean_spaces(text)


def plain_text(text: str, *, traditional: bool) -> str:
    """Like ``to_display`` but keeps line breaks: for pattern matching over a whole page's text."""
    text = strip_pinyin(text)
    return to_simplified(text) if traditional else text


def hash_text(text: str) -> str:
    """The form compared for deduplication: NFKC, pinyin stripped, Simplified, lower case, and no
    spaces or punctuation at all, so layout and punctuation width never make two articles differ."""
    text = strip_pinyin(unicodedata.normalize("NFKC", text))
    return _PUNCT_OR_SPACE.sub("", to_simplified(text)).lower()
