"""A page with a few bad bytes, or one sentence pasted in GBK, is one article with the right fields."""

from __future__ import annotations

from service.extract import extract_article
from service.settings import load_settings

PROFILE = load_settings(environ={}).profile
URL = "https://www.jnwb.example.cn/a/2023/0915/c7788-10288.html"
TITLE = "城市书房夜间开放延长至22点"
PARAGRAPHS = [
    "从本周起，全市28家城市书房的夜间开放时间由21点延长至22点，周末及节假日照常开放。",
    "“下班后来看一会儿书，是一天里最安静的时候。”在城东城市书房，市民何女士说。",
    "市图书馆相关负责人介绍，城市书房今年以来接待读者超过60万人次，夜间时段的读者占到三成以上。",
]


def page(paragraphs: list[bytes]) -> bytes:
    head = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{TITLE}_江南晚报</title></head><body>'
        f'<div class="nav"><a href="/">首页</a> <a href="/city/">城事</a></div><h1>{TITLE}</h1>'
        '<div class="meta">2023-09-15 10:05 来源：江南晚报</div><div class="article-body">'
    ).encode()
    body = b"".join(b"<p>" + p + b"</p>" for p in paragraphs)
    tail = '<p>（记者 周宛秋）</p></div><div class="editor">责任编辑：钟敏</div></body></html>'.encode()
    return head + body + tail


def test_utf8_page_with_a_gbk_sentence() -> None:
    raw = page([PARAGRAPHS[0].encode(), PARAGRAPHS[1].encode(), PARAGRAPHS[2].encode("gbk")])
    article = extract_article(raw, URL, profile=PROFILE, content_type="text/html; charset=utf-8")
    assert article.title == TITLE
    assert article.body_text == "\n".join(PARAGRAPHS)
    assert article.credits.reporters == ("周宛秋",) and article.credits.editors == ("钟敏",)
    assert article.published_at is not None and article.published_at.isoformat().startswith(
        "2023-09-15T10:05"
    )
    assert "recovered from gb18030" in article.fields_from["encoding"]
    assert article.encoding == "utf-8 (header)"


def test_utf8_page_with_a_few_invalid_bytes() -> None:
    broken = (
        PARAGRAPHS[1].encode().replace("何女士".encode(), b"\xe4\xbd" + "女士".encode())
    )  # a cut character
    raw = page([PARAGRAPHS[0].encode(), broken, PARAGRAPHS[2].encode() + b"\xff"])
    article = extract_article(raw, URL, profile=PROFILE, content_type="text/html; charset=utf-8")
    assert article.title == TITLE
    assert article.body_text.split("\n")[0] == PARAGRAPHS[0]
    assert "市民\ufffd女士" in article.body_text or "市民\ufffd\ufffd女士" in article.body_text
    assert article.credits.reporters == ("周宛秋",) and article.credits.editors == ("钟敏",)
    assert article.fields_from["encoding"].endswith("undecodable bytes replaced")


def test_a_clean_page_says_nothing_of_its_encoding() -> None:
    raw = page([p.encode() for p in PARAGRAPHS])
    article = extract_article(raw, URL, profile=PROFILE, content_type="text/html; charset=utf-8")
    assert "encoding" not in article.fields_from and article.body_text == "\n".join(PARAGRAPHS)
