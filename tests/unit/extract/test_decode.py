"""Decoding: header, BOM, meta, detection; GB family as GB18030; wrong headers survived."""

from __future__ import annotations

import codecs

from service.extract.decode import decode_html

GBK_PAGE = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>朱镕基 王堃 张喆</body></html>'


def test_gb2312_declared_page_with_gbk_only_characters() -> None:
    d = decode_html(GBK_PAGE.encode("gbk"), "text/html")
    assert "朱镕基 王堃 张喆" in d.text
    assert d.encoding == "gb18030" and d.method == "meta" and d.replaced == 0


def test_wrong_utf8_header_over_gbk_bytes_falls_back_to_meta() -> None:
    d = decode_html(GBK_PAGE.encode("gbk"), "text/html; charset=utf-8")
    assert "朱镕基" in d.text and d.method == "meta"


def test_header_wins_when_it_decodes() -> None:
    d = decode_html("<p>镇江</p>".encode(), "text/html; charset=UTF-8")
    assert d.text == "<p>镇江</p>" and d.method == "header"


def test_latin1_header_is_not_trusted_over_utf8_bytes() -> None:
    d = decode_html("<p>镇江</p>".encode(), "text/html; charset=iso-8859-1")
    assert d.text == "<p>镇江</p>"


def test_bom() -> None:
    d = decode_html(codecs.BOM_UTF8 + "<p>镇江</p>".encode(), None)
    assert d.text == "<p>镇江</p>" and d.method == "bom"


def test_undeclared_gbk_is_detected() -> None:
    d = decode_html("<p>镇江市召开大会，朱镕基</p>".encode("gbk"), None)
    assert "镇江市召开大会，朱镕基" in d.text


def test_undecodable_bytes_are_counted_never_question_marks() -> None:
    d = decode_html(b"<p>\xff\xfe\xfd\x80\x81</p>" + "镇江".encode("utf-16-le"), "text/html; charset=utf-8")
    assert "?" not in d.text.replace("<p>", "")


UTF8_PAGE = (
    '<html><head><meta charset="utf-8"><title>城市书房夜间开放延长至22点</title></head>'
    "<body><h1>城市书房夜间开放延长至22点</h1><p>{}</p><p>（记者 周宛秋）</p></body></html>"
)
GBK_SENTENCE = "市图书馆相关负责人介绍，城市书房今年以来接待读者超过60万人次。"


def test_a_few_bad_bytes_cost_a_character_each_not_the_page() -> None:
    raw = UTF8_PAGE.format("从本周起，全市28家城市书房\xff的夜间开放时间延长。").encode().replace(b"\xc3\xbf", b"\xff")
    d = decode_html(raw, "text/html; charset=utf-8")
    assert "城市书房夜间开放延长至22点" in d.text and "（记者 周宛秋）" in d.text
    assert d.encoding == "utf-8" and d.replaced == 1 and d.recovered == 0
    assert "\ufffd的夜间开放" in d.text
    assert d.damage() == "utf-8 (header): 1 undecodable bytes replaced"


def test_a_gbk_sentence_in_a_utf8_page_is_recovered() -> None:
    raw = UTF8_PAGE.encode().replace(b"{}", GBK_SENTENCE.encode("gbk"))
    for content_type in ("text/html; charset=utf-8", "text/html", None):
        d = decode_html(raw, content_type)
        assert GBK_SENTENCE in d.text and "城市书房夜间开放延长至22点" in d.text, content_type
        assert d.encoding == "utf-8" and d.replaced == 0 and d.recovered == len(GBK_SENTENCE) - 2  # "60" is ASCII


def test_undecodable_run_that_is_not_chinese_is_replaced() -> None:
    raw = UTF8_PAGE.format("开放时间").encode().replace("开放时间".encode(), b"\x81\x30\x81\x30\xfe\xfe\xfe")
    d = decode_html(raw, "text/html; charset=utf-8")
    assert "城市书房" in d.text and d.replaced >= 1


def test_a_real_gbk_page_still_decodes_as_gbk() -> None:
    page = UTF8_PAGE.replace('charset="utf-8"', 'charset="gb2312"').format(GBK_SENTENCE + "朱镕基 王堃")
    for content_type in ("text/html", "text/html; charset=utf-8", None):
        d = decode_html(page.encode("gbk"), content_type)
        assert GBK_SENTENCE + "朱镕基 王堃" in d.text and d.encoding == "gb18030", content_type
        assert d.replaced == 0 and d.recovered == 0


def test_an_undeclared_gbk_page_with_a_bad_byte_is_gbk() -> None:
    raw = ("<p>" + GBK_SENTENCE * 3 + "</p>").encode("gbk") + b"\xff<p>" + GBK_SENTENCE.encode("gbk") + b"</p>"
    d = decode_html(raw, None)
    assert GBK_SENTENCE in d.text and d.encoding == "gb18030"


def test_a_utf8_page_declared_gb2312_is_utf8() -> None:
    page = UTF8_PAGE.replace('charset="utf-8"', 'charset="gb2312"').format(GBK_SENTENCE)
    d = decode_html(page.encode(), None)
    assert GBK_SENTENCE in d.text and d.encoding == "utf-8"
