"""Articles and texts for the store tests, built the way the extractor would build them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from service.model import Article, Credits, Image

SEEN = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def chinese_text(seed: int, n: int = 600) -> str:
    """``n`` CJK characters, different for each seed (reproducible)."""
    rnd = random.Random(seed)
    return "".join(chr(0x4E00 + rnd.randrange(0x51A5)) for _ in range(n))


def tweak(text: str, positions: tuple[int, ...]) -> str:
    """``text`` with the characters at ``positions`` replaced: a near-duplicate."""
    chars = list(text)
    for p in positions:
        chars[p] = "的" if chars[p] != "的" else "了"
    return "".join(chars)


def make_article(
    url: str = "https://www.jsw.com.cn/2026/0301/1900001.shtml",
    *,
    text: str | None = None,
    seed: int = 1,
    title: str = "镇江新闻标题",
    **fields: Any,
) -> Article:
    """An Article as the extractor would build it; ``normalized_text`` is ``text`` itself."""
    text = chinese_text(seed) if text is None else text
    body = "\n".join(text[i : i + 200] for i in range(0, len(text), 200))
    defaults: dict[str, Any] = {
        "published_at": datetime(2026, 3, 1, 9, 30, tzinfo=CST),
        "credits": Credits(reporters=("张三", "李四"), editors=("王五",), source="镇江日报"),
        "images": (Image("https://www.jsw.com.cn/img/1.jpg", "图为现场"),),
        "fields_from": {"title": "structured", "body_text": "generic"},
    }
    values = {"body_text": body, "normalized_text": text, **defaults, **fields}
    return Article(url=url, title=title, **values)
